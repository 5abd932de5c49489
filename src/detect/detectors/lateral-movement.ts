/**
 * Service-to-service lateral movement (ATT&CK T1021.007 Cloud Services, T1078.004):
 * - `lateral-new-edge`: a learned identity reaching an identity it has never reached (assumes a new role,
 *   impersonates a new user, exchanges a token for a new audience);
 * - `lateral-fan-out`: many distinct identities reached in a short window;
 * - `lateral-role-chain`: a session created by chaining role assumptions three deep, followed hop by hop
 *   through the session keys CloudTrail reports for each AssumeRole.
 */
import type { AlertDraft } from '../alert.js';
import type { Detector } from '../detector.js';
import { describeActor, describeSource, SlidingWindows } from '../detector.js';
import type { NormalizedEvent } from '../event.js';

const EDGE_ACTIONS =
  /^(sts:AssumeRole$|k8s:(create|get):pods\/(exec|attach|portforward)$|token\.exchange|broker\.exchange)/;
const CHAIN_DEPTH_ALERT = 3;

export function lateralMovementDetector(): Detector {
  const fanOut = new SlidingWindows<{ target: string; event: NormalizedEvent }>();
  /** Depth of role chaining behind each session key seen as issued by AssumeRole. */
  const depth = new Map<string, { depth: number; root: string }>();
  return {
    rules: ['lateral-new-edge', 'lateral-fan-out', 'lateral-role-chain'],
    inspect({ event, key, baseline, learned, config }) {
      // An impersonated Kubernetes request keeps its own verb, so impersonation is an edge whatever the action.
      const target = event.impersonating ?? (EDGE_ACTIONS.test(event.action) ? event.targets[0] : undefined);
      if (target === undefined) return undefined;
      if (event.outcome !== 'success' && event.outcome !== 'allow') return undefined;
      const out: AlertDraft[] = [];
      const how = event.impersonating
        ? `impersonated ${target} (${event.action})`
        : `used ${event.action} to reach ${target}`;
      if (learned && baseline && !baseline.edges.has(target)) {
        out.push({
          rule_id: 'lateral-new-edge',
          title: 'Identity reached a new identity',
          severity: 'medium',
          techniques: ['T1021.007', 'T1078.004'],
          explanation: `${describeActor(event)} ${how} ${describeSource(event)} at ${event.time}, an edge its learned behaviour has never contained. Service-to-service paths are stable; a new one is either a deploy or an attacker moving sideways.`,
          suggested_response:
            'Confirm with the owner that the new path is expected; if not, revoke the session created and restrict who may assume the target.',
          evidence: [event],
          discriminator: target,
        });
      }
      const w = fanOut.push(key, event.timeMs, { target, event }, config.fanOutWindowMs);
      const distinct = new Set(w.map((x) => x.v.target));
      if (distinct.size >= config.fanOutThreshold) {
        out.push({
          rule_id: 'lateral-fan-out',
          title: 'Fan-out to many identities',
          severity: 'high',
          techniques: ['T1021.007', 'T1078.004'],
          explanation: `${describeActor(event)} reached ${distinct.size} distinct identities within ${Math.round(config.fanOutWindowMs / 60_000)} minutes (${[...distinct].slice(0, 5).join(', ')}${distinct.size > 5 ? ', …' : ''}) ${describeSource(event)}. Spraying role assumptions is how an attacker maps what a stolen credential can reach.`,
          suggested_response: 'Revoke the identity’s sessions and every session it created in the window.',
          evidence: [...new Set(w.map((x) => x.v.event))],
        });
      }
      if (event.action === 'sts:AssumeRole') {
        const own = event.credential ? depth.get(event.credential.id) : undefined;
        const d = (own?.depth ?? (event.actor.type === 'AssumedRole' ? 1 : 0)) + 1;
        const root = own?.root ?? event.credential?.id ?? key;
        const issued = event.params.issuedAccessKeyId;
        if (typeof issued === 'string') {
          if (depth.size >= 200_000) depth.delete(depth.keys().next().value!);
          depth.set(issued, { depth: d, root });
        }
        if (d >= CHAIN_DEPTH_ALERT) {
          out.push({
            rule_id: 'lateral-role-chain',
            title: 'Role-assumption chain',
            severity: 'high',
            techniques: ['T1078.004', 'T1550.001'],
            explanation: `${describeActor(event)} assumed ${target} from a session that was itself created by chained role assumptions (depth ${d}) ${describeSource(event)} at ${event.time}. Chaining roles hides the original principal from later log lines and is rarely needed by workloads.`,
            suggested_response:
              'Walk the chain back to the original principal in the evidence, revoke all sessions in it, and tighten the trust policies that allowed each hop.',
            evidence: [event],
            groupKey: root,
          });
        }
      }
      return out;
    },
  };
}
