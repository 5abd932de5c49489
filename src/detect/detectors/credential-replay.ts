/**
 * Token / credential replay (ATT&CK T1550.001 Application Access Token, T1552.005 Cloud Instance Metadata
 * API): a credential presented in a way its binding forbids. A DPoP-bound token (RFC 9449 `cnf.jkt`) shown
 * with another key; a token the broker reports as replayed; or a short-lived session credential — which lives
 * on exactly one machine — used from a second network while it is still valid.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource } from '../detector.js';
import { isIpNetwork } from '../baseline.js';

const REPLAY_EVENT_TYPES = new Set(['token.replayed', 'token.replay_detected', 'token.replay']);

export function credentialReplayDetector(): Detector {
  return {
    rules: ['credential-replay'],
    inspect({ event, credentialBaseline }) {
      const cred = event.credential;
      if (!cred) return undefined;
      const t = event.token;
      let why: string | undefined;
      let techniques = ['T1550.001'];
      if (t?.boundJkt && t.presentedJkt && t.boundJkt !== t.presentedJkt) {
        why = `is bound to key ${t.boundJkt} but was presented with key ${t.presentedJkt}`;
      } else if (REPLAY_EVENT_TYPES.has(String(event.params.eventType))) {
        why = 'was presented again after its use budget was spent (replay refused by the broker)';
      } else if (
        cred.temporary &&
        credentialBaseline &&
        isIpNetwork(event.src.network) &&
        credentialBaseline.networks.size > 0 &&
        !credentialBaseline.networks.has(event.src.network)
      ) {
        why = `is a short-lived session credential first used from ${[...credentialBaseline.networks].join(', ')} and now from ${event.src.network}`;
        if (cred.id.startsWith('ASIA')) techniques = ['T1552.005', 'T1550.001'];
      }
      if (!why) return undefined;
      return [
        {
          rule_id: 'credential-replay',
          title: 'Credential replayed',
          severity: 'critical',
          techniques,
          explanation: `The credential ${cred.id} of ${describeActor(event)} ${why}; seen on ${event.action} ${describeSource(event)} at ${event.time}. A session credential lives on one machine; the same credential from somewhere else means it was copied.`,
          suggested_response:
            'Revoke the credential and the session behind it now, then find how it left the machine it was issued to (metadata service, logs, environment dump).',
          evidence: [event],
          discriminator: event.src.network ?? t?.presentedJkt,
          signal: 'session-revoked',
        },
      ];
    },
  };
}
