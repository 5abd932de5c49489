/**
 * Builders for realistic event sequences in detector tests: CloudTrail records shaped as AWS writes them
 * (the fields Stratus Red Team documents for each technique), Kubernetes audit events, and an engine runner.
 */
import { randomUUID } from 'node:crypto';
import type { Alert } from '../../src/detect/alert.js';
import type { DetectConfig } from '../../src/detect/detector.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { NormalizedEvent } from '../../src/detect/event.js';
import { normalizeValue } from '../../src/detect/parse/reader.js';
import { ActorResolver, type InventorySnapshot } from '../../src/detect/resolve.js';
import type { Credential, Identity } from '../../src/inventory/types.js';
import { identityRecord } from '../helpers/records.js';

export const ACCOUNT = '111122223333';
export const T0 = Date.parse('2026-03-02T09:00:00Z');
export const MIN = 60_000;
export const DAY = 86_400_000;

export function at(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface CtActor {
  userIdentity: Record<string, unknown>;
}

export function iamUser(name: string, accessKeyId = 'AKIAEXAMPLEUSER00001'): CtActor {
  return {
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLE',
      arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
      accountId: ACCOUNT,
      accessKeyId,
      userName: name,
    },
  };
}

export function assumedRole(role: string, session: string, accessKeyId = 'ASIAEXAMPLESESSION01'): CtActor {
  return {
    userIdentity: {
      type: 'AssumedRole',
      principalId: `AROAEXAMPLE:${session}`,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
      accountId: ACCOUNT,
      accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLE',
          arn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
          accountId: ACCOUNT,
          userName: role,
        },
        attributes: { creationDate: '2026-03-02T08:00:00Z', mfaAuthenticated: 'false' },
      },
    },
  };
}

export function root(): CtActor {
  return {
    userIdentity: {
      type: 'Root',
      principalId: ACCOUNT,
      arn: `arn:aws:iam::${ACCOUNT}:root`,
      accountId: ACCOUNT,
    },
  };
}

export interface CtOptions {
  time: number;
  ip?: string;
  userAgent?: string;
  params?: Record<string, unknown>;
  response?: Record<string, unknown>;
  errorCode?: string;
  resources?: { ARN: string; type?: string }[];
  id?: string;
  eventType?: string;
}

/** One CloudTrail record. */
export function ct(actor: CtActor, source: string, name: string, o: CtOptions): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: actor.userIdentity,
    eventTime: at(o.time),
    eventSource: `${source}.amazonaws.com`,
    eventName: name,
    awsRegion: 'us-east-1',
    sourceIPAddress: o.ip ?? '10.20.30.40',
    userAgent: o.userAgent ?? 'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5',
    requestParameters: o.params ?? null,
    responseElements: o.response ?? null,
    ...(o.errorCode ? { errorCode: o.errorCode, errorMessage: 'denied' } : {}),
    ...(o.resources ? { resources: o.resources } : {}),
    requestID: randomUUID(),
    eventID: o.id ?? randomUUID(),
    readOnly: /^(Get|List|Describe)/.test(name),
    eventType: o.eventType ?? 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
  };
}

export interface K8sOptions {
  time: number;
  verb: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  ip?: string;
  userAgent?: string;
  code?: number;
  requestObject?: unknown;
  id?: string;
  extra?: Record<string, string[]>;
  /** `Impersonate-User` request: Kubernetes logs the requester in `user` and the target here. */
  impersonatedUser?: { username: string; groups?: string[] };
}

export function k8s(username: string, o: K8sOptions): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: o.id ?? randomUUID(),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/${o.namespace ? `namespaces/${o.namespace}/` : ''}${o.resource ?? ''}`,
    verb: o.verb,
    user: {
      username,
      uid: randomUUID(),
      groups: ['system:authenticated'],
      ...(o.extra ? { extra: o.extra } : {}),
    },
    ...(o.impersonatedUser ? { impersonatedUser: o.impersonatedUser } : {}),
    sourceIPs: [o.ip ?? '10.244.1.17'],
    userAgent: o.userAgent ?? 'external-secrets/v0.9.11',
    ...(o.resource
      ? {
          objectRef: {
            resource: o.resource,
            ...(o.subresource ? { subresource: o.subresource } : {}),
            ...(o.namespace ? { namespace: o.namespace } : {}),
            ...(o.name ? { name: o.name } : {}),
            apiVersion: 'v1',
          },
        }
      : {}),
    responseStatus: { metadata: {}, code: o.code ?? 200 },
    ...(o.requestObject ? { requestObject: o.requestObject } : {}),
    requestReceivedTimestamp: new Date(o.time).toISOString(),
    stageTimestamp: new Date(o.time + 5).toISOString(),
  };
}

export function normalize(records: unknown[]): NormalizedEvent[] {
  return records.flatMap((r) => normalizeValue(r, 'auto'));
}

export interface RunOptions {
  config?: Partial<DetectConfig>;
  inventory?: InventorySnapshot;
  /** Events replayed first to build a baseline (their alerts are discarded). */
  history?: unknown[];
}

/** Runs records through a fresh engine; returns the alerts raised by `records` only. */
export function detect(records: unknown[], options: RunOptions = {}): Alert[] {
  const engine = new DetectionEngine({
    config: options.config,
    resolver: new ActorResolver(options.inventory),
  });
  for (const e of normalize(options.history ?? [])) engine.process(e);
  const before = new Set(engine.alerts().map((a) => a.id));
  for (const e of normalize(records)) engine.process(e);
  return engine.alerts().filter((a) => !before.has(a.id));
}

export function rules(alerts: Alert[]): string[] {
  return alerts.map((a) => a.rule_id);
}

const NOW = '2026-01-01T00:00:00.000Z';

export function identity(p: Partial<Identity> & Pick<Identity, 'id' | 'kind'>): Identity {
  return identityRecord({ source: 'manual', ...p });
}

export function credential(
  p: Partial<Credential> & Pick<Credential, 'id' | 'identityId' | 'fingerprint'>,
): Credential {
  return {
    type: 'access_key',
    status: 'active',
    scopes: [],
    storedIn: [],
    consumers: [],
    source: 'manual',
    labels: {},
    createdAt: NOW,
    updatedAt: NOW,
    lastUsedAt: null,
    expiresAt: null,
    lastRotatedAt: null,
    ...p,
  };
}

/** A normal GitHub Actions deploy: OIDC role, ECR push, ECS service update, S3 artefact upload. */
export function ciDeploy(start: number, run = 'run-1234'): Record<string, unknown>[] {
  const ci = assumedRole(
    'github-deploy',
    `GitHubActions-${run}`,
    `ASIACI${run.replace(/\W/g, '').toUpperCase().padEnd(14, '0')}`,
  );
  const ip = '140.82.112.4';
  const ua = 'aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1017-azure exe/x86_64.ubuntu.22';
  return [
    ct(ci, 'sts', 'GetCallerIdentity', { time: start, ip, userAgent: ua }),
    ct(ci, 'ecr', 'GetAuthorizationToken', { time: start + 5_000, ip, userAgent: ua }),
    ct(ci, 'ecr', 'PutImage', {
      time: start + 60_000,
      ip,
      userAgent: ua,
      params: { repositoryName: 'payments-api' },
    }),
    ct(ci, 's3', 'PutObject', {
      time: start + 70_000,
      ip,
      userAgent: ua,
      params: { bucketName: 'acme-artifacts', key: `payments/${run}.zip` },
    }),
    ct(ci, 'ecs', 'RegisterTaskDefinition', {
      time: start + 80_000,
      ip,
      userAgent: ua,
      params: { family: 'payments-api' },
    }),
    ct(ci, 'ecs', 'UpdateService', {
      time: start + 90_000,
      ip,
      userAgent: ua,
      params: { service: 'payments-api' },
    }),
    ct(ci, 'ecs', 'DescribeServices', { time: start + 120_000, ip, userAgent: ua }),
  ];
}

/** A nightly ETL on an ECS task role: reads its one DB secret, pulls from S3, runs Athena, writes results. */
export function nightlyEtl(start: number): Record<string, unknown>[] {
  const etl = assumedRole('etl-warehouse', 'ecs-task-7f3a', `ASIAETL${String(start).slice(-8)}00000`);
  const ip = '10.20.30.41';
  const ua = 'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10 lang/python#3.12.2';
  const out = [
    ct(etl, 'secretsmanager', 'GetSecretValue', {
      time: start,
      ip,
      userAgent: ua,
      params: { secretId: 'prod/etl/warehouse-db' },
      resources: [{ ARN: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/etl/warehouse-db-AbCdEf` }],
    }),
  ];
  for (let i = 0; i < 12; i++) {
    out.push(
      ct(etl, 's3', 'GetObject', {
        time: start + 10_000 + i * 1000,
        ip,
        userAgent: ua,
        params: { bucketName: 'acme-raw', key: `events/2026/03/part-${i}.parquet` },
      }),
    );
  }
  out.push(ct(etl, 'athena', 'StartQueryExecution', { time: start + 60_000, ip, userAgent: ua }));
  out.push(ct(etl, 'athena', 'GetQueryResults', { time: start + 120_000, ip, userAgent: ua }));
  out.push(
    ct(etl, 's3', 'PutObject', {
      time: start + 130_000,
      ip,
      userAgent: ua,
      params: { bucketName: 'acme-warehouse', key: 'daily.parquet' },
    }),
  );
  return out;
}
