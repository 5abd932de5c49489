/**
 * Secrets access burst: one identity reading many distinct secrets in a short window, or listing every
 * secret of a cluster (ATT&CK T1555.006 Cloud Secrets Management Stores, T1552.007 Container API). A workload
 * reads the handful of secrets it was built for; a thief with its key reads everything it can.
 */
import type { Detector } from '../detector.js';
import { describeActor, describeSource, SlidingWindows } from '../detector.js';
import type { NormalizedEvent } from '../event.js';

/** The secret names an event read, or undefined when it read none. */
export function secretsRead(event: NormalizedEvent): string[] | undefined {
  if (event.outcome !== 'success' && event.outcome !== 'allow') return undefined;
  switch (event.action) {
    case 'secretsmanager:GetSecretValue':
      return [event.resource ?? strParam(event.params.secretId)];
    case 'secretsmanager:BatchGetSecretValue':
      return listParam(event.params.secretIdList) ?? [`batch:${event.id}`];
    case 'ssm:GetParameter':
    case 'ssm:GetParameters':
    case 'ssm:GetParametersByPath':
      if (event.params.withDecryption !== true) return undefined;
      return (
        listParam(event.params.names) ?? [
          typeof event.params.name === 'string' ? event.params.name : (event.resource ?? '?'),
        ]
      );
    case 'k8s:get:secrets':
    case 'k8s:list:secrets':
      return [event.resource ?? '?'];
    default:
      return undefined;
  }
}

export function secretsBurstDetector(): Detector {
  const windows = new SlidingWindows<{ secret: string; event: NormalizedEvent }>();
  return {
    rules: ['secrets-access-burst'],
    inspect({ event, key, config }) {
      const secrets = secretsRead(event);
      if (!secrets) return undefined;
      if (event.action === 'k8s:list:secrets' && event.params.namespace === undefined) {
        return [
          {
            rule_id: 'secrets-access-burst',
            title: 'All secrets of a cluster listed',
            severity: 'high',
            techniques: ['T1552.007'],
            explanation: `${describeActor(event)} listed the secrets of every namespace ${describeSource(event)} at ${event.time}. A cluster-wide secret list returns every secret value in one call; workloads read the secrets of their own namespace by name.`,
            suggested_response:
              'Treat every secret in the cluster as exposed: revoke the caller, then rotate the secrets starting with the most privileged.',
            evidence: [event],
            discriminator: 'cluster-list',
            signal: 'credential-compromise',
          },
        ];
      }
      let w: { t: number; v: { secret: string; event: NormalizedEvent } }[] = [];
      for (const s of secrets)
        w = windows.push(key, event.timeMs, { secret: s, event }, config.secretsBurstWindowMs);
      const distinct = new Set(w.map((x) => x.v.secret));
      if (distinct.size < config.secretsBurstThreshold) return undefined;
      const evidence = [...new Set(w.map((x) => x.v.event))];
      return [
        {
          rule_id: 'secrets-access-burst',
          title: 'Burst of secret reads',
          severity: 'high',
          techniques: ['T1555.006'],
          explanation: `${describeActor(event)} read ${distinct.size} distinct secrets within ${Math.round(config.secretsBurstWindowMs / 60_000)} minutes ${describeSource(event)}, ending at ${event.time}. A workload reads the few secrets it was built for; reading many in a burst is how a stolen credential is turned into more credentials.`,
          suggested_response:
            'Revoke the identity’s credentials, rotate the secrets it read (list in the evidence), and check where those secrets are used.',
          evidence,
          signal: 'credential-compromise',
        },
      ];
    },
  };
}

function listParam(value: unknown): string[] | undefined {
  if (typeof value !== 'string' || !value.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map((v) => String(v)) : undefined;
  } catch {
    return undefined;
  }
}

function strParam(value: unknown): string {
  return typeof value === 'string' ? value : '?';
}
