/**
 * Dormant credential wakes up (ATT&CK T1078.004): a key unused for longer than the dormancy period
 * (default 90 days) is suddenly used. Forgotten keys are what leaks from old repositories and laptops; the
 * legitimate owner rarely resumes using one without a change ticket.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource } from '../detector.js';

const DAY_MS = 86_400_000;

export function dormantCredentialDetector(): Detector {
  return {
    rules: ['dormant-credential'],
    inspect({ event, baseline, credentialBaseline, config }) {
      let lastMs: number | undefined;
      let what: string;
      if (event.credential) {
        const inv = event.credential.lastUsedAt ? Date.parse(event.credential.lastUsedAt) : undefined;
        lastMs = credentialBaseline?.lastSeen ?? (inv !== undefined && !Number.isNaN(inv) ? inv : undefined);
        what = `credential ${event.credential.id}`;
      } else {
        lastMs = baseline?.lastSeen;
        what = 'identity';
      }
      if (lastMs === undefined || event.timeMs - lastMs < config.dormantAfterMs) return undefined;
      const days = Math.floor((event.timeMs - lastMs) / DAY_MS);
      return [
        {
          rule_id: 'dormant-credential',
          title: 'Dormant credential used again',
          severity: 'high',
          techniques: ['T1078.004'],
          explanation: `The ${what} of ${describeActor(event)} was used for ${event.action} ${describeSource(event)} at ${event.time} after ${days} days without use (last seen ${new Date(lastMs).toISOString()}). Long-unused keys are the ones that leak unnoticed from old repositories, images and laptops.`,
          suggested_response:
            'Ask the owner whether the use is expected; if not, revoke the credential. Either way, retire keys that go unused for a quarter.',
          evidence: [event],
          signal: 'credential-compromise',
        },
      ];
    },
  };
}
