/**
 * Privilege changes made by non-human identities: a workload that creates keys for someone else, attaches an
 * admin policy, or rewrites a role's trust policy is either misconfigured or being used by an attacker for
 * persistence (ATT&CK T1098.001 Additional Cloud Credentials, T1098.003 Additional Cloud Roles). Only
 * identities known to be human are exempt; an IAM user of unknown kind is judged like a machine.
 */
import type { AlertDraft } from '../alert.js';
import type { Detector } from '../detector.js';
import { describeActor, describeSource, machineness } from '../detector.js';
import type { NormalizedEvent } from '../event.js';

const ADMIN_POLICY = /:policy\/(AdministratorAccess|IAMFullAccess|PowerUserAccess)$/;
const WILDCARD_ALLOW =
  /"Effect"\s*:\s*"Allow"[\s\S]*"Action"\s*:\s*(\[\s*)?"\*"|"Action"\s*:\s*(\[\s*)?"\*"[\s\S]*"Effect"\s*:\s*"Allow"/;

function ownUserName(event: NormalizedEvent): string | undefined {
  const m = /:user\/(?:.*\/)?([^/]+)$/.exec(event.actor.name);
  return m?.[1];
}

export function privilegeChangeDetector(): Detector {
  return {
    rules: ['nhi-privilege-change'],
    inspect({ event }) {
      if (event.outcome !== 'success' && event.outcome !== 'allow') return undefined;
      if (machineness(event) === 'human') return undefined;
      const found = classify(event);
      if (!found) return undefined;
      const draft: AlertDraft = {
        rule_id: 'nhi-privilege-change',
        title: 'Privilege change by a non-human identity',
        severity: found.severity,
        techniques: [found.technique],
        explanation: `${describeActor(event)}, a non-human (or unclassified) identity, ${found.what} with ${event.action} ${describeSource(event)} at ${event.time}. Workloads rarely need to grant access; an attacker holding a workload credential does this to keep access after the stolen credential is rotated.`,
        suggested_response:
          'Revert the change (delete the new key, detach the policy, restore the trust policy), quarantine the acting identity and rotate its credentials.',
        evidence: [event],
        discriminator: `${event.action}:${event.targets.join(',')}`,
        signal: 'credential-compromise',
      };
      return [draft];
    },
  };
}

function classify(
  event: NormalizedEvent,
): { severity: AlertDraft['severity']; technique: string; what: string } | undefined {
  const p = event.params;
  const target = event.targets[0];
  switch (event.action) {
    case 'iam:CreateAccessKey': {
      const own = ownUserName(event);
      if (!target || target === own) return undefined;
      return {
        severity: 'high',
        technique: 'T1098.001',
        what: `created an access key for the IAM user ${target}`,
      };
    }
    case 'iam:CreateLoginProfile':
    case 'iam:UpdateLoginProfile':
      return {
        severity: 'high',
        technique: 'T1098.001',
        what: `set a console password for ${target ?? 'an IAM user'}`,
      };
    case 'iam:AttachUserPolicy':
    case 'iam:AttachRolePolicy':
    case 'iam:AttachGroupPolicy': {
      const arn = typeof p.policyArn === 'string' ? p.policyArn : '';
      if (!ADMIN_POLICY.test(arn)) return undefined;
      return {
        severity: 'critical',
        technique: 'T1098.003',
        what: `attached ${arn} to ${target ?? 'a principal'}`,
      };
    }
    case 'iam:PutUserPolicy':
    case 'iam:PutRolePolicy':
    case 'iam:PutGroupPolicy': {
      const doc = typeof p.policyDocument === 'string' ? safeDecode(p.policyDocument) : '';
      if (!WILDCARD_ALLOW.test(doc)) return undefined;
      return {
        severity: 'critical',
        technique: 'T1098.003',
        what: `wrote an inline policy allowing every action to ${target ?? 'a principal'}`,
      };
    }
    case 'iam:UpdateAssumeRolePolicy':
      return {
        severity: 'high',
        technique: 'T1098.003',
        what: `rewrote the trust policy of role ${target ?? '?'}`,
      };
    case 'k8s:create:clusterrolebindings':
    case 'k8s:create:rolebindings':
    case 'k8s:update:clusterrolebindings':
    case 'k8s:patch:clusterrolebindings':
      if (p.roleRef !== 'cluster-admin' && p.roleRef !== 'admin') return undefined;
      return { severity: 'critical', technique: 'T1098', what: `bound the ${String(p.roleRef)} role` };
    case 'k8s:create:serviceaccounts/token':
      if (target === event.actor.name) return undefined;
      return {
        severity: 'high',
        technique: 'T1528',
        what: `minted a token for the service account ${target ?? event.resource ?? '?'}`,
      };
    default:
      return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
