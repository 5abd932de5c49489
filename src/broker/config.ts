/**
 * Broker configuration: a YAML or JSON file named by `BULKHEAD_BROKER_CONFIG` (or an object handed to
 * `createBrokerModule`). The format is documented in `src/broker/README.md`; every field is checked here so a
 * typo fails at start, not at the first token request.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const jwksSchema = z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) });

const mappingSchema = z.strictObject({
  /** Claim (dotted path into nested claims allowed) → exact value, or a glob with `*`. */
  match: z
    .record(z.string(), z.string())
    .refine((m) => Object.keys(m).length > 0, 'needs at least one claim'),
  identity: z.string().min(1),
});

const trustBundleSchema = z
  .strictObject({
    name: z.string().min(1),
    /** `spiffe` JWT-SVIDs, `kubernetes` projected SA tokens, `ci_oidc` CI tokens (GitHub Actions-style claims). */
    kind: z.enum(['spiffe', 'kubernetes', 'ci_oidc']),
    /** Required `iss` (optional for SPIFFE, whose JWT-SVIDs are matched by trust domain). */
    issuer: z.string().min(1).optional(),
    /** SPIFFE trust domain, e.g. `prod.example` (spiffe only). */
    trust_domain: z.string().min(1).optional(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwks_file: z.string().min(1).optional(),
    jwks_url: z.url().optional(),
    jwks: jwksSchema.optional(),
    algorithms: z.array(z.string()).min(1).default(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']),
    mappings: z.array(mappingSchema).default([]),
  })
  .superRefine((b, ctx) => {
    const sources = [b.jwks_file, b.jwks_url, b.jwks].filter((s) => s !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of jwks_file, jwks_url, jwks' });
    if (b.kind === 'spiffe' && !b.trust_domain) {
      ctx.addIssue({ code: 'custom', path: ['trust_domain'], message: 'required for spiffe bundles' });
    }
    if (b.kind !== 'spiffe' && !b.issuer) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: `required for ${b.kind} bundles` });
    }
  });

const clientSchema = z
  .strictObject({
    /** Inventory identity id; it is also the `iss`/`sub` (client_id) of its RFC 7523 assertions. */
    identity: z.string().min(1),
    jwks_file: z.string().min(1).optional(),
    jwks: jwksSchema.optional(),
  })
  .refine((c) => (c.jwks_file === undefined) !== (c.jwks === undefined), 'exactly one of jwks_file, jwks');

const postgresTargetSchema = z.strictObject({
  resource: z.string().min(1),
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  privileges: z.record(
    z.string(),
    z.array(z.enum(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])),
  ),
  tables: z.array(z.string().regex(/^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$/, 'must be schema.table')).min(1),
  connection_limit: z.number().int().min(1).max(100).optional(),
});

export const brokerConfigSchema = z.strictObject({
  /** `iss` of minted tokens and the audience workload proofs must name (besides the token endpoint URL). */
  issuer: z.string().min(1).default('urn:bulkhead:broker'),
  /** Default `aud` of task tokens when a task names none. */
  default_audience: z.string().min(1).default('urn:bulkhead:resource'),
  token_ttl_seconds: z.number().int().min(1).max(300).default(300),
  max_task_ttl_seconds: z.number().int().min(1).default(86_400),
  default_task_ttl_seconds: z.number().int().min(1).default(900),
  /** How long a rotated-out key keeps verifying; at least the token TTL. */
  key_overlap_seconds: z.number().int().min(1).default(900),
  key_rotation_days: z.number().min(0).default(30),
  dpop_iat_window_seconds: z.number().int().min(1).max(600).default(60),
  /** How far ahead of our clock a DPoP `iat` may be. */
  dpop_clock_skew_seconds: z.number().int().min(0).max(60).default(5),
  /** Refuse bearer (unbound) tokens at the token endpoint. */
  require_dpop: z.boolean().default(false),
  max_delegation_depth: z.number().int().min(1).max(10).default(3),
  sweep_interval_ms: z.number().int().min(0).default(1000),
  trust_bundles: z.array(trustBundleSchema).default([]),
  clients: z.array(clientSchema).default([]),
  /** Downstream dynamic credentials (one PostgreSQL login role per task). */
  downstream: z
    .strictObject({ postgres: z.array(postgresTargetSchema).default([]) })
    .default({ postgres: [] }),
});

export type BrokerConfig = z.infer<typeof brokerConfigSchema>;
export type BrokerConfigInput = z.input<typeof brokerConfigSchema>;
export type TrustBundleConfig = BrokerConfig['trust_bundles'][number];

export class BrokerConfigError extends Error {
  override name = 'BrokerConfigError';
}

/**
 * Parses a config object; relative `jwks_file` paths resolve against `baseDir`.
 * @example parseBrokerConfig({ trust_bundles: [{ name: 'spire', kind: 'spiffe', trust_domain: 'prod.example',
 *   audience: 'bulkhead', jwks_file: 'bundle.json' }] }, '/etc/bulkhead')
 */
export function parseBrokerConfig(input: unknown, baseDir = process.cwd()): BrokerConfig {
  const r = brokerConfigSchema.safeParse(input ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new BrokerConfigError(`broker config ${i ? `${i.path.join('.')}: ${i.message}` : 'is invalid'}`);
  }
  const c = r.data;
  if (c.key_overlap_seconds < c.token_ttl_seconds) {
    throw new BrokerConfigError('broker config key_overlap_seconds must be >= token_ttl_seconds');
  }
  for (const b of c.trust_bundles) if (b.jwks_file) b.jwks_file = resolve(baseDir, b.jwks_file);
  for (const cl of c.clients) if (cl.jwks_file) cl.jwks_file = resolve(baseDir, cl.jwks_file);
  return c;
}

export function loadBrokerConfigFile(path: string): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BrokerConfigError(`cannot read broker config ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new BrokerConfigError(`broker config ${path} does not parse: ${(err as Error).message}`);
  }
  return parseBrokerConfig(parsed, dirname(resolve(path)));
}
