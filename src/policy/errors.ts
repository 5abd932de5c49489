import { defineErrorCodes } from '../errors.js';

export const policyError = defineErrorCodes({
  POLICY_INVALID: { status: 400, title: 'Policy failed parsing or schema validation' },
  POLICY_VERSION_NOT_FOUND: { status: 404, title: 'No such policy version' },
  APPROVAL_NOT_FOUND: { status: 404, title: 'No such approval request' },
  APPROVAL_NOT_PENDING: { status: 409, title: 'Approval request is no longer pending' },
  APPROVER_NOT_OWNER: { status: 403, title: 'Approver is not a current owner of the resource' },
  APPROVER_IS_REQUESTER: { status: 403, title: 'Approver is the principal that requested the approval' },
  APPROVER_NOT_HUMAN: { status: 403, title: 'Approver is not a human identity in the inventory' },
  APPROVER_INACTIVE: { status: 403, title: 'Approver is disabled or quarantined' },
  AUTHZEN_BAD_REQUEST: { status: 400, title: 'Malformed AuthZEN request' },
  AUTHZEN_BATCH_TOO_LARGE: { status: 400, title: 'Too many evaluations in one request' },
});
