/**
 * Break-glass and shared accounts: any use alerts. They exist for emergencies (or, for shared accounts,
 * despite policy); every use needs a human to confirm it was expected. An AWS root user is treated as
 * break-glass even when it is not in the inventory.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource } from '../detector.js';

export function breakGlassDetector(): Detector {
  return {
    rules: ['break-glass-use', 'shared-account-use'],
    inspect({ event }) {
      const kind = event.actor.kind;
      const isBreakGlass = kind === 'break_glass' || (kind === undefined && event.actor.type === 'Root');
      if (isBreakGlass) {
        return [
          {
            rule_id: 'break-glass-use',
            title: 'Break-glass identity used',
            severity: 'critical',
            techniques: ['T1078.004'],
            explanation: `The break-glass identity ${describeActor(event)} performed ${event.action} ${describeSource(event)} at ${event.time}. Break-glass access is reserved for declared emergencies, so every use is treated as a potential compromise until someone confirms an incident was open and the actions match it.`,
            suggested_response:
              'Confirm with the on-call lead that an emergency was declared; if not, rotate the break-glass secret, revoke its sessions and review every action taken in this session.',
            evidence: [event],
            signal: 'credential-compromise',
          },
        ];
      }
      if (kind === 'shared_account') {
        return [
          {
            rule_id: 'shared-account-use',
            title: 'Shared account used',
            severity: 'high',
            techniques: ['T1078'],
            explanation: `The shared account ${describeActor(event)} performed ${event.action} ${describeSource(event)} at ${event.time}. Actions on a shared account cannot be attributed to one person, so a stolen copy of its password or key is indistinguishable from its legitimate users.`,
            suggested_response:
              'Ask the listed users who acted; move them to personal identities with their own credentials and retire the shared account.',
            evidence: [event],
          },
        ];
      }
      return undefined;
    },
  };
}
