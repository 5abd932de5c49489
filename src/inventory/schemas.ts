/** zod schemas for inventory input. Objects are strict: an unknown field is an error, not silently dropped. */
import { z } from 'zod';
import {
  CREDENTIAL_STATUSES,
  CREDENTIAL_TYPES,
  ID_PATTERN,
  IDENTITY_KINDS,
  IDENTITY_STATUSES,
  SENSITIVITIES,
} from './types.js';

export const idSchema = z
  .string()
  .regex(
    ID_PATTERN,
    'ids are 1-200 characters of letters, digits and . _ @ : + = ~ - (no spaces or slashes)',
  );

export const ownerSchema = z
  .string()
  .regex(
    /^(team:[A-Za-z0-9][A-Za-z0-9._-]{0,99}|[A-Za-z0-9][A-Za-z0-9._@:+=~-]{0,199})$/,
    'an owner is an identity id or team:<name>',
  );

const shortText = z.string().min(1).max(200);
const environmentSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'environments are lowercase, e.g. prod, staging, dev');
const sourceSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.:-]{0,59}$/, 'sources are lowercase, e.g. manual, aws-iam, k8s');
const labelsSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, 'label keys are short identifiers'),
    z.string().max(500),
  )
  .refine((r) => Object.keys(r).length <= 64, 'at most 64 labels');
/**
 * Stored as UTC (`toISOString`): the store compares timestamps as text (`?expired`, `stale_days`), which is only
 * chronological when every value has the same offset. An overwrite, not a transform, so the JSON Schemas
 * generated from these schemas stay as they are; it runs even after the format check failed, hence the guard.
 */
const isoTime = z.iso.datetime({ offset: true }).overwrite((v) => {
  const at = new Date(v);
  return Number.isNaN(at.getTime()) ? v : at.toISOString();
});
const stringList = (item: z.ZodString, max: number) => z.array(item).max(max);

/*
 * Each entity's fields are declared once without defaults: the create schema adds the defaults, the patch
 * schema makes every field optional. A patch built from the create schema would keep the defaults (zod 4's
 * `.partial()` does), so an omitted field would be reset, e.g. a quarantined identity set back to active.
 */
const identityFields = {
  id: idSchema.optional(),
  kind: z.enum(IDENTITY_KINDS),
  displayName: shortText,
  spiffeId: z
    .string()
    .regex(
      /^spiffe:\/\/[a-z0-9.-]+(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/,
      'a SPIFFE ID looks like spiffe://trust.domain/path',
    )
    .max(2048)
    .nullable()
    .optional(),
  cloudArn: z
    .string()
    .regex(/^arn:[a-z-]+:[a-z0-9-]+:/, 'an ARN starts with arn:<partition>:<service>:')
    .max(2048)
    .nullable()
    .optional(),
  k8sServiceAccount: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{0,252}\/[a-z0-9][a-z0-9.-]{0,252}$/,
      'a Kubernetes service account is namespace/name',
    )
    .nullable()
    .optional(),
  owners: stringList(ownerSchema, 50),
  groups: stringList(z.string().min(1).max(200), 200),
  environment: environmentSchema,
  source: sourceSchema,
  labels: labelsSchema,
  status: z.enum(IDENTITY_STATUSES),
  lastSeenAt: isoTime.nullable().optional(),
};

export const identityCreateSchema = z.strictObject({
  ...identityFields,
  owners: identityFields.owners.default([]),
  groups: identityFields.groups.default([]),
  source: identityFields.source.default('manual'),
  labels: identityFields.labels.default({}),
  status: identityFields.status.default('active'),
});
export type IdentityCreateInput = z.infer<typeof identityCreateSchema>;

export const identityPatchSchema = z
  .strictObject(identityFields)
  .omit({ id: true, kind: true })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');
export type IdentityPatchInput = z.infer<typeof identityPatchSchema>;

const credentialFields = {
  id: idSchema.optional(),
  identityId: idSchema,
  type: z.enum(CREDENTIAL_TYPES),
  fingerprint: z.string().min(4).max(512),
  status: z.enum(CREDENTIAL_STATUSES),
  scopes: stringList(z.string().min(1).max(300), 500),
  storedIn: stringList(z.string().min(1).max(500), 50),
  consumers: stringList(idSchema, 500),
  source: sourceSchema,
  labels: labelsSchema,
  lastUsedAt: isoTime.nullable().optional(),
  expiresAt: isoTime.nullable().optional(),
  lastRotatedAt: isoTime.nullable().optional(),
};

export const credentialCreateSchema = z.strictObject({
  ...credentialFields,
  status: credentialFields.status.default('active'),
  scopes: credentialFields.scopes.default([]),
  storedIn: credentialFields.storedIn.default([]),
  consumers: credentialFields.consumers.default([]),
  source: credentialFields.source.default('manual'),
  labels: credentialFields.labels.default({}),
});
export type CredentialCreateInput = z.infer<typeof credentialCreateSchema>;

export const credentialPatchSchema = z
  .strictObject(credentialFields)
  .omit({ id: true, identityId: true, type: true })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');
export type CredentialPatchInput = z.infer<typeof credentialPatchSchema>;

const resourceFields = {
  id: idSchema.optional(),
  type: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.:-]{0,59}$/, 'resource types are lowercase, e.g. database, s3_bucket'),
  displayName: shortText,
  sensitivity: z.enum(SENSITIVITIES),
  environment: environmentSchema,
  owners: stringList(ownerSchema, 50),
  parentId: idSchema.nullable().optional(),
  source: sourceSchema,
  labels: labelsSchema,
};

export const resourceCreateSchema = z.strictObject({
  ...resourceFields,
  owners: resourceFields.owners.default([]),
  source: resourceFields.source.default('manual'),
  labels: resourceFields.labels.default({}),
});
export type ResourceCreateInput = z.infer<typeof resourceCreateSchema>;

export const resourcePatchSchema = z
  .strictObject(resourceFields)
  .omit({ id: true })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');
export type ResourcePatchInput = z.infer<typeof resourcePatchSchema>;

const limitSchema = z.coerce.number().int().min(1).max(500).default(50);
const boolQuery = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const identityListQuerySchema = z.strictObject({
  kind: z.enum(IDENTITY_KINDS).optional(),
  owner: ownerSchema.optional(),
  environment: environmentSchema.optional(),
  status: z.enum(IDENTITY_STATUSES).optional(),
  source: sourceSchema.optional(),
  stale_days: z.coerce.number().int().min(0).max(36500).optional(),
  no_owner: boolQuery.optional(),
  spiffe_id: z.string().max(2048).optional(),
  cloud_arn: z.string().max(2048).optional(),
  k8s_service_account: z.string().max(600).optional(),
  limit: limitSchema,
  cursor: z.string().max(400).optional(),
});

export const credentialListQuerySchema = z.strictObject({
  identity_id: idSchema.optional(),
  type: z.enum(CREDENTIAL_TYPES).optional(),
  status: z.enum(CREDENTIAL_STATUSES).optional(),
  consumer: idSchema.optional(),
  fingerprint: z.string().min(1).max(512).optional(),
  expired: boolQuery.optional(),
  limit: limitSchema,
  cursor: z.string().max(400).optional(),
});

export const resourceListQuerySchema = z.strictObject({
  type: z.string().max(60).optional(),
  sensitivity: z.enum(SENSITIVITIES).optional(),
  environment: environmentSchema.optional(),
  parent_id: idSchema.optional(),
  limit: limitSchema,
  cursor: z.string().max(400).optional(),
});

export const idParamsSchema = z.strictObject({ id: idSchema });
