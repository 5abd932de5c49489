/** Error codes of the respond module (tests assert these, never the message). */
import { defineErrorCodes } from '../errors.js';

export const respondError = defineErrorCodes({
  RESPOND_PLAYBOOK_INVALID: { status: 400, title: 'Playbook failed validation' },
  RESPOND_PLAYBOOK_NOT_FOUND: { status: 404, title: 'No such playbook' },
  RESPOND_INCIDENT_NOT_FOUND: { status: 404, title: 'No such incident' },
  RESPOND_STEP_NOT_FOUND: { status: 404, title: 'No such playbook step' },
  RESPOND_STEP_NOT_AWAITING_APPROVAL: { status: 409, title: 'Step is not waiting for approval' },
  RESPOND_NOTHING_TO_RESTORE: { status: 409, title: 'The step changed nothing that could be restored' },
  RESPOND_BAD_TRANSITION: { status: 409, title: 'Incident state change not allowed' },
  RESPOND_LEAK_REPORT_INVALID: { status: 400, title: 'Leak report could not be read' },
  RESPOND_ROTATION_NOT_FOUND: { status: 404, title: 'No such rotation' },
  RESPOND_ROTATION_STATE: { status: 409, title: 'Rotation is not in a state that allows this' },
  RESPOND_NOT_BREAK_GLASS: { status: 409, title: 'Not a usable break-glass account' },
  RESPOND_JUSTIFICATION_REQUIRED: { status: 400, title: 'A justification is required' },
  RESPOND_BREAK_GLASS_NOT_FOUND: { status: 404, title: 'No such break-glass session' },
});
