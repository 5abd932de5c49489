/**
 * Reuse across workflows (Bulkhead invariant 2, ATT&CK T1550.001): a task token used for an action outside
 * its declared intent or in another workflow than the one it was issued for, or a credential presented by a
 * workload that is not among its recorded consumers.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource } from '../detector.js';

export function workflowReuseDetector(): Detector {
  return {
    rules: ['workflow-reuse'],
    inspect({ event, credentialBaseline }) {
      const cred = event.credential;
      if (!cred) return undefined;
      const t = event.token;
      let why: string | undefined;
      let discriminator: string | undefined;
      // Broker lifecycle events (issued, revoked, ...) carry the intent but are not a use of the token: their
      // action is the event type itself, which is never part of a task's intent.
      const lifecycle = event.source === 'bulkhead' && /^token\.(issued|revoked|expired)$/.test(event.action);
      if (
        !lifecycle &&
        t?.intentActions &&
        t.intentActions.length > 0 &&
        !t.intentActions.includes(event.action)
      ) {
        why = `was used for ${event.action}, outside its task's declared intent (${t.intentActions.join(', ')})`;
        discriminator = `intent:${event.action}`;
      } else if (t?.workflow && credentialBaseline?.workflow && t.workflow !== credentialBaseline.workflow) {
        why = `was issued for workflow ${credentialBaseline.workflow} and is now used in workflow ${t.workflow}`;
        discriminator = `workflow:${t.workflow}`;
      } else if (
        t?.presentedBy &&
        cred.consumers &&
        cred.consumers.length > 0 &&
        !cred.consumers.includes(t.presentedBy)
      ) {
        why = `was presented by ${t.presentedBy}, which is not among its recorded consumers (${cred.consumers.join(', ')})`;
        discriminator = `consumer:${t.presentedBy}`;
      }
      if (!why) return undefined;
      return [
        {
          rule_id: 'workflow-reuse',
          title: 'Credential reused outside its workflow',
          severity: 'high',
          techniques: ['T1550.001'],
          explanation: `The credential ${cred.id} of ${describeActor(event)} ${why} ${describeSource(event)} at ${event.time}. A task credential is worth nothing outside its task by design; using it elsewhere is either a bug that defeats that design or a stolen token.`,
          suggested_response:
            'Revoke the token, find which workload presented it and how it obtained it, and record the legitimate consumers if this use was expected.',
          evidence: [event],
          discriminator,
          signal: 'session-revoked',
        },
      ];
    },
  };
}
