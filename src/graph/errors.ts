import { defineErrorCodes } from '../errors.js';

export const graphError = defineErrorCodes({
  GRAPH_NODE_NOT_FOUND: { status: 404, title: 'No such node in the identity graph' },
  GRAPH_BAD_TARGET: { status: 400, title: 'Invalid path target' },
  IMPORT_INVALID: { status: 400, title: 'Import file is invalid' },
  IMPORT_UNKNOWN_KIND: { status: 400, title: 'Unknown import kind' },
  IMPORT_CONFLICT: { status: 409, title: 'Import would overwrite records owned by another source' },
});
