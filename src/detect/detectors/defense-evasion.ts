/**
 * Defense evasion: switching off or blinding the audit trail (ATT&CK T1562.008, Disable or Modify Cloud
 * Logs) or the threat detector (T1562.001). Attempts alert too, even denied ones: nobody probes StopLogging
 * by accident.
 */
import type { Severity } from '../alert.js';
import type { Detector } from '../detector.js';
import { describeActor, describeSource } from '../detector.js';

/** A Map, not an object literal: `EVASION[action]` would match `toString` and every other inherited name. */
const EVASION = new Map<string, { severity: Severity; technique: string; what: string }>(
  Object.entries({
    'cloudtrail:StopLogging': {
      severity: 'critical',
      technique: 'T1562.008',
      what: 'stopped CloudTrail logging',
    },
    'cloudtrail:DeleteTrail': {
      severity: 'critical',
      technique: 'T1562.008',
      what: 'deleted a CloudTrail trail',
    },
    'cloudtrail:UpdateTrail': {
      severity: 'high',
      technique: 'T1562.008',
      what: 'changed a CloudTrail trail',
    },
    'cloudtrail:PutEventSelectors': {
      severity: 'high',
      technique: 'T1562.008',
      what: 'changed which events CloudTrail records',
    },
    'ec2:DeleteFlowLogs': { severity: 'high', technique: 'T1562.008', what: 'deleted VPC flow logs' },
    'logs:DeleteLogGroup': {
      severity: 'medium',
      technique: 'T1562.008',
      what: 'deleted a CloudWatch log group',
    },
    'config:StopConfigurationRecorder': {
      severity: 'high',
      technique: 'T1562.008',
      what: 'stopped the AWS Config recorder',
    },
    'config:DeleteConfigurationRecorder': {
      severity: 'high',
      technique: 'T1562.008',
      what: 'deleted the AWS Config recorder',
    },
    'guardduty:DeleteDetector': {
      severity: 'critical',
      technique: 'T1562.001',
      what: 'deleted the GuardDuty detector',
    },
    'guardduty:UpdateDetector': {
      severity: 'medium',
      technique: 'T1562.001',
      what: 'changed the GuardDuty detector',
    },
    'k8s:delete:events': { severity: 'medium', technique: 'T1070', what: 'deleted Kubernetes events' },
  }),
);

export function defenseEvasionDetector(): Detector {
  return {
    rules: ['defense-evasion'],
    inspect({ event }) {
      const hit = EVASION.get(event.action);
      if (!hit) return undefined;
      const attempted = event.outcome === 'success' || event.outcome === 'allow' ? '' : ' (attempt, refused)';
      return [
        {
          rule_id: 'defense-evasion',
          title: 'Audit or detection disabled',
          severity: hit.severity,
          techniques: [hit.technique],
          explanation: `${describeActor(event)} ${hit.what}${attempted} with ${event.action} on ${event.resource ?? 'an unnamed resource'} ${describeSource(event)} at ${event.time}. Attackers turn logging off before acting so that what follows leaves no trace; legitimate changes to audit configuration go through change management, not ad-hoc API calls.`,
          suggested_response:
            'Re-enable logging immediately, quarantine the identity, and review every action it took from an independent log source (organization trail, S3 access logs).',
          evidence: [event],
          discriminator: event.action,
          signal: 'credential-compromise',
        },
      ];
    },
  };
}
