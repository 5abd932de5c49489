/**
 * Human use of a non-human identity (OWASP NHI10:2025, ATT&CK T1078.004): a console sign-in or a browser
 * user agent on a machine credential, or an interactive CLI (kubectl, aws-cli) that the machine identity has
 * never used before. People borrowing service credentials defeat attribution, and attackers do the same.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource, machineness } from '../detector.js';
import { agentFamily } from '../baseline.js';

const BROWSER =
  /(Mozilla\/|Chrome\/|Safari\/|Firefox\/|Edg\/|signin\.amazonaws\.com|console\.amazonaws\.com)/;
const INTERACTIVE_CLI = new Set(['kubectl', 'aws-cli', 'oc', 'k9s', 'gcloud', 'az']);

export function humanUseOfNhiDetector(): Detector {
  return {
    rules: ['human-use-of-nhi'],
    inspect({ event, baseline, learned }) {
      if (machineness(event) !== 'machine') return undefined;
      const ua = event.src.userAgent ?? '';
      let why: string | undefined;
      if (event.console) why = 'signed in to the web console';
      else if (BROWSER.test(ua)) why = 'was used from a web browser';
      else {
        const family = agentFamily(ua);
        if (family && INTERACTIVE_CLI.has(family) && learned && baseline && !baseline.agents.has(family)) {
          why = `was used from an interactive command-line tool (${family}) it has never used before`;
        }
      }
      if (!why) return undefined;
      return [
        {
          rule_id: 'human-use-of-nhi',
          title: 'Human use of a non-human identity',
          severity: 'high',
          techniques: ['T1078.004'],
          explanation: `The machine identity ${describeActor(event)} ${why}: ${event.action} ${describeSource(event)} at ${event.time}. Service credentials belong to workloads; a person using one, whether a colleague taking a shortcut or an attacker with a copied key, cannot be told apart from the workload in later logs.`,
          suggested_response:
            'Find who used the credential; if nobody owns up, revoke it. Give people their own identities and remove console access from service identities.',
          evidence: [event],
          discriminator: why,
          signal: 'credential-compromise',
        },
      ];
    },
  };
}
