/**
 * API chaining. Two rules over the order of an identity's actions:
 * - `api-chain-known-bad`: the credential-theft kill chain — enumerate identities or secrets, then read secrets,
 *   then create a key or
 *   assume a role — within the chain window, whatever the baseline says (T1087.004, T1555.006, T1098.001, T1078.004);
 * - `api-chain-novel`: several action transitions in a short span that the identity's learned transition
 *   model (bigrams over its actions) has never seen, i.e. a new way of working, not just one new call.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource, SlidingWindows } from '../detector.js';
import type { NormalizedEvent } from '../event.js';
import { secretsRead } from './secrets-burst.js';

export type ChainStage = 'enumerate' | 'secrets' | 'persist' | 'pivot';

/**
 * Discovery of identities, permissions and secrets. `sts:GetCallerIdentity` and resource listings
 * (ec2:Describe…) are left out on purpose: every CLI, SDK and Terraform run makes them, so counting them
 * would turn each CI job that reads a secret and assumes a deploy role into a "chain".
 */
const ENUMERATE =
  /^(iam:(List|GetAccountAuthorizationDetails$|GetUser$|GetRole$|GetPolicy)|secretsmanager:ListSecrets$|ssm:DescribeParameters$|organizations:List|k8s:list:(secrets|serviceaccounts|roles|rolebindings|clusterroles|clusterrolebindings)$|k8s:create:self(subjectrules|subjectaccess)reviews$)/;
const PERSIST =
  /^(iam:(CreateAccessKey|CreateLoginProfile|UpdateLoginProfile|CreateUser)$|k8s:create:serviceaccounts\/token$|k8s:create:(cluster)?rolebindings$)/;
const PIVOT = /^sts:AssumeRole$/;

export function chainStage(event: NormalizedEvent): ChainStage | undefined {
  if (secretsRead(event)) return 'secrets';
  if (event.outcome !== 'success' && event.outcome !== 'allow') {
    // Failed enumeration is still enumeration; failed writes did not happen.
    return ENUMERATE.test(event.action) ? 'enumerate' : undefined;
  }
  if (ENUMERATE.test(event.action)) return 'enumerate';
  if (PERSIST.test(event.action)) return 'persist';
  // Kubernetes logs an impersonated request under its own verb; acting as another user is the pivot.
  if (PIVOT.test(event.action) || event.impersonating !== undefined) return 'pivot';
  return undefined;
}

interface ChainState {
  enumerate?: NormalizedEvent;
  secrets?: NormalizedEvent;
}

export function apiChainDetector(): Detector {
  const chains = new Map<string, ChainState & { t: number }>();
  const novel = new SlidingWindows<NormalizedEvent>();
  return {
    rules: ['api-chain-known-bad', 'api-chain-novel'],
    inspect({ event, key, baseline, learned, config }) {
      const out = [];
      const stage = chainStage(event);
      if (stage) {
        let st = chains.get(key);
        if (st && event.timeMs - st.t > config.chainWindowMs) {
          chains.delete(key);
          st = undefined;
        }
        if (stage === 'enumerate') {
          if (!st) {
            if (chains.size >= 100_000) chains.delete(chains.keys().next().value!);
            chains.set(key, { enumerate: event, t: event.timeMs });
          }
        } else if (stage === 'secrets') {
          if (st?.enumerate && !st.secrets) st.secrets = event;
        } else if (st?.enumerate && st.secrets) {
          chains.delete(key);
          out.push({
            rule_id: 'api-chain-known-bad',
            title:
              'Credential-theft chain: enumerate → read secrets → ' +
              (stage === 'persist' ? 'create credential' : 'assume role'),
            severity: 'critical' as const,
            techniques: ['T1087.004', 'T1555.006', stage === 'persist' ? 'T1098.001' : 'T1078.004'],
            explanation: `${describeActor(event)} enumerated (${st.enumerate.action} at ${st.enumerate.time}), then read secrets (${st.secrets.action} at ${st.secrets.time}), then ${stage === 'persist' ? 'created a credential' : 'assumed another role'} (${event.action} at ${event.time}) ${describeSource(event)}. This is the order in which a stolen cloud credential is turned into lasting access; each step alone can be routine, the sequence within one hour is not.`,
            suggested_response:
              'Quarantine the identity, revoke any credential or session created in the chain, and rotate the secrets that were read.',
            evidence: [st.enumerate, st.secrets, event],
            signal: 'credential-compromise' as const,
          });
        }
      }
      if (learned && baseline && baseline.lastAction !== undefined) {
        const transition = `${baseline.lastAction}>${event.action}`;
        // A new order of known calls counts too: a stolen credential replays the workload's own API calls,
        // just not in the workload's order.
        if (!baseline.transitions.has(transition)) {
          const w = novel.push(key, event.timeMs, event, config.chainWindowMs);
          if (w.length >= config.novelStepsThreshold) {
            novel.clear(key);
            out.push({
              rule_id: 'api-chain-novel',
              title: 'New sequence of API calls for this identity',
              severity: 'medium' as const,
              techniques: ['T1078.004'],
              explanation: `${describeActor(event)} made ${w.length} calls within ${Math.round(config.chainWindowMs / 60_000)} minutes, each following the previous one in an order its learned behaviour has never contained (${w.map((x) => x.v.action).join(' → ')}) ${describeSource(event)}. Machine identities repeat the same sequences; a run of never-seen transitions usually means someone else is driving the credential.`,
              suggested_response:
                'Check with the owner whether a deploy or code change explains the new calls; if not, revoke the credential and review the calls made.',
              evidence: w.map((x) => x.v),
            });
          }
        }
      }
      return out;
    },
  };
}
