/**
 * Bulkhead's declarative inventory format (`bulkhead import yaml FILE`). The zod schema is the single source:
 * `inventory.schema.json` next to this file is generated from it (a test fails if they drift), and the
 * record shapes are the inventory API's own create schemas.
 */
import { z } from 'zod';
import {
  credentialCreateSchema,
  identityCreateSchema,
  idSchema,
  resourceCreateSchema,
} from '../../../inventory/schemas.js';
import { EDGE_KINDS } from '../../model.js';

/** A graph node reference: a bare id (an identity or resource of this file), or `identity:`/`resource:`/`group:`/`admin:` + id. */
const nodeRef = z
  .string()
  .regex(
    /^((identity|resource|group|admin|credential):)?[A-Za-z0-9][A-Za-z0-9._@:+=~/-]{0,199}$/,
    'a node reference is an id or <type>:<id>',
  );

export const yamlCredentialSchema = credentialCreateSchema
  .omit({ identityId: true, source: true })
  .extend({ id: idSchema });

export const yamlIdentitySchema = identityCreateSchema.omit({ source: true }).extend({
  id: idSchema,
  /** Marks the identity admin-equivalent (full control of a system). */
  admin: z.boolean().default(false),
  credentials: z.array(yamlCredentialSchema).max(200).default([]),
});

export const yamlResourceSchema = resourceCreateSchema.omit({ source: true }).extend({ id: idSchema });

export const yamlGrantSchema = z.strictObject({
  from: nodeRef,
  to: nodeRef,
  kind: z.enum(EDGE_KINDS).default('has_permission'),
  /** The permission or trust that enables the step, shown in every path through it. */
  via: z.string().min(1).max(500),
  /** Short name when the grant is a privilege-escalation method. */
  method: z.string().min(1).max(100).optional(),
  conditional: z.boolean().default(false),
});

export const yamlInventorySchema = z.strictObject({
  apiVersion: z.literal('bulkhead.dev/v1'),
  kind: z.literal('Inventory'),
  /** Re-importing a file with the same scope replaces what that scope declared before (and removes what it no longer lists). */
  scope: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'scope is a short lowercase name'),
  identities: z.array(yamlIdentitySchema).max(100_000).default([]),
  resources: z.array(yamlResourceSchema).max(100_000).default([]),
  grants: z.array(yamlGrantSchema).max(1_000_000).default([]),
});

export type YamlInventory = z.infer<typeof yamlInventorySchema>;

export function inventoryJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://bulkhead.dev/schemas/inventory-v1.json',
    title: 'Bulkhead declarative inventory (bulkhead import yaml)',
    ...z.toJSONSchema(yamlInventorySchema, { io: 'input', unrepresentable: 'any' }),
  };
}
