/**
 * A broker under test: a real server (SQLite file) with the demo inventory, the real PDP and a test policy,
 * a frozen clock the test moves, and local trust bundles (a JWKS file for SPIFFE, a local HTTP JWKS endpoint
 * for CI OIDC, an inline set for Kubernetes, a registered key for a private_key_jwt client). No internet.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { createBrokerModule } from '../../src/broker/index.js';
import { accessTokenHash } from '../../src/broker/dpop/proof.js';
import type { BrokerConfigInput } from '../../src/broker/config.js';
import type { BulkheadEvent } from '../../src/events/bus.js';
import { brokerTokenAuthority } from '../../src/broker/token-authority.js';
import { createDetectModule } from '../../src/detect/index.js';
import { createRespondModule } from '../../src/respond/index.js';
import { coreModule } from '../../src/modules/index.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

export const POLICIES = `
@id("broker-reads")
permit (principal, action == Action::"read", resource)
when { principal.id == "payments-api" || principal.id == "agent-support-bot" || principal.id == "ci-payments-deploy" || principal.id == "k8s-cert-manager" };
@id("broker-writes")
permit (principal, action == Action::"write", resource) when { principal.id == "payments-api" };
@id("pii-needs-approval")
@obligation("approval_required")
forbid (principal, action, resource) when { resource.id == "customer-db" } unless { context.approved };
`;

export const BROKER_AUD = 'https://broker.test';
export const SPIFFE_TD = 'prod.acmepay.example';
export const CI_ISSUER = 'https://ci.test';
export const K8S_ISSUER = 'https://k8s.test';

export interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function keyPair(alg: 'EdDSA' | 'ES256' = 'EdDSA', kid = randomUUID()): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg };
  return { privateKey, publicJwk };
}

export class Clock {
  constructor(public ms = Date.now()) {}
  now = () => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
  get seconds(): number {
    return Math.floor(this.ms / 1000);
  }
}

export interface Harness {
  server: TestServer;
  masterKey: string;
  config: BrokerConfigInput;
  clock: Clock;
  events: BulkheadEvent[];
  broker: ReturnType<typeof createBrokerModule>;
  spiffe: KeyPair;
  ci: KeyPair;
  k8s: KeyPair;
  client: KeyPair;
  tokenUrl: string;
  jwksServer: Server;
  stop(): Promise<void>;
  svid(sub: string, opts?: { aud?: string; exp?: number; key?: KeyPair }): Promise<string>;
  ciToken(claims: Record<string, unknown>, opts?: { aud?: string; exp?: number }): Promise<string>;
  k8sToken(sub: string, ns: string): Promise<string>;
  clientAssertion(
    identity: string,
    opts?: { aud?: string; jti?: string; iat?: number; exp?: number },
  ): Promise<string>;
  dpop(
    key: KeyPair,
    htm: string,
    htu: string,
    opts?: { jti?: string; iat?: number; accessToken?: string },
  ): Promise<string>;
  form(
    path: string,
    params: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  createTask(proof: string, body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  mint(proof: string, task: string, dpopKey?: KeyPair): Promise<{ status: number; body: any }>;
  validate(body: Record<string, unknown>): Promise<{ status: number; body: any }>;
}

export async function startHarness(
  options: {
    config?: Partial<BrokerConfigInput>;
    masterKey?: string;
    postgres?: boolean;
    detect?: boolean;
    /** Adds detect + respond wired to this broker (containment end to end). */
    respond?: boolean;
    /** Server environment (e.g. `BULKHEAD_PUBLIC_URL`). */
    env?: Record<string, string>;
  } = {},
): Promise<Harness> {
  const clock = new Clock();
  const [spiffe, ci, k8s, client] = await Promise.all([keyPair(), keyPair('ES256'), keyPair(), keyPair()]);
  const dir = tempDir('bulkhead-broker-');
  const spiffeFile = join(dir, 'spiffe-bundle.json');
  writeFileSync(spiffeFile, JSON.stringify({ keys: [spiffe.publicJwk] }));
  const jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [ci.publicJwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const addr = jwksServer.address();
  const jwksUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/jwks`;
  const config: BrokerConfigInput = {
    issuer: BROKER_AUD,
    default_audience: 'payments',
    sweep_interval_ms: 0,
    trust_bundles: [
      {
        name: 'spire-prod',
        kind: 'spiffe',
        trust_domain: SPIFFE_TD,
        audience: BROKER_AUD,
        jwks_file: spiffeFile,
        mappings: [{ match: { sub: `spiffe://${SPIFFE_TD}/ns/agents/sa/*` }, identity: 'agent-support-bot' }],
      },
      {
        name: 'ci',
        kind: 'ci_oidc',
        issuer: CI_ISSUER,
        audience: BROKER_AUD,
        jwks_url: jwksUrl,
        mappings: [
          {
            match: { repository: 'acmepay/payments', ref: 'refs/heads/main' },
            identity: 'ci-payments-deploy',
          },
        ],
      },
      {
        name: 'k8s',
        kind: 'kubernetes',
        issuer: K8S_ISSUER,
        audience: BROKER_AUD,
        jwks: { keys: [k8s.publicJwk] },
        mappings: [{ match: { 'kubernetes.io.namespace': 'cert-manager' }, identity: 'k8s-cert-manager' }],
      },
    ],
    clients: [{ identity: 'agent-finops', jwks: { keys: [client.publicJwk] } }],
    ...options.config,
  };
  const masterKey = options.masterKey ?? randomBytes(32).toString('base64');
  const policy = createPolicyModule({ pollMs: 0 });
  const broker = createBrokerModule({
    pdp: () => policy.runtime().pdp,
    approvals: () => policy.runtime().approvals,
    config,
    masterKey,
  });
  const containment = () => {
    if (!options.detect && !options.respond) return [];
    const detect = createDetectModule();
    if (!options.respond) return [detect];
    const tokens = brokerTokenAuthority(() => broker.runtime());
    const respond = createRespondModule({
      pdp: () => policy.runtime().pdp,
      detect: () => detect.service(),
      broker: () => tokens,
    });
    return [detect, respond];
  };
  const server = await startTestServer({
    demo: true,
    modules: [coreModule, policy, broker, ...containment()],
    now: clock.now,
    postgres: options.postgres ?? false,
    ...(options.env ? { env: options.env } : {}),
  });
  const events: BulkheadEvent[] = [];
  server.ctx.events.subscribe('token.*', (e) => events.push(e));
  const push = await server.call('POST', '/v1/policies', {
    body: { policies: POLICIES, actions: ['read', 'write', 'delete'] },
  });
  if (push.status !== 201) throw new Error(`policy push failed: ${JSON.stringify(push.body)}`);
  const tokenUrl = `${server.ctx.config.publicUrl ?? server.url}/oauth2/token`;

  const h: Harness = {
    server,
    masterKey,
    config,
    clock,
    events,
    broker,
    spiffe,
    ci,
    k8s,
    client,
    tokenUrl,
    jwksServer,
    async stop() {
      await server.stop();
      await new Promise<void>((r) => jwksServer.close(() => r()));
    },
    svid(sub, o = {}) {
      const key = o.key ?? spiffe;
      return new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: key.publicJwk.kid ?? '', typ: 'JWT' })
        .setSubject(sub)
        .setAudience(o.aud ?? BROKER_AUD)
        .setIssuedAt(clock.seconds)
        .setExpirationTime(o.exp ?? clock.seconds + 300)
        .sign(key.privateKey);
    },
    ciToken(claims, o = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: ci.publicJwk.kid ?? '' })
        .setIssuer(CI_ISSUER)
        .setAudience(o.aud ?? BROKER_AUD)
        .setIssuedAt(clock.seconds)
        .setExpirationTime(o.exp ?? clock.seconds + 300)
        .sign(ci.privateKey);
    },
    k8sToken(sub, ns) {
      return new SignJWT({
        'kubernetes.io': { namespace: ns, serviceaccount: { name: sub.split(':').pop() } },
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: k8s.publicJwk.kid ?? '' })
        .setIssuer(K8S_ISSUER)
        .setSubject(sub)
        .setAudience(BROKER_AUD)
        .setIssuedAt(clock.seconds)
        .setExpirationTime(clock.seconds + 300)
        .sign(k8s.privateKey);
    },
    clientAssertion(identity, o = {}) {
      return new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', kid: client.publicJwk.kid ?? '' })
        .setIssuer(identity)
        .setSubject(identity)
        .setAudience(o.aud ?? tokenUrl)
        .setJti(o.jti ?? randomUUID())
        .setIssuedAt(o.iat ?? clock.seconds)
        .setExpirationTime(o.exp ?? clock.seconds + 60)
        .sign(client.privateKey);
    },
    dpop(key, htm, htu, o = {}) {
      return new SignJWT({
        htm,
        htu,
        jti: o.jti ?? randomUUID(),
        ...(o.accessToken ? { ath: accessTokenHash(o.accessToken) } : {}),
      })
        .setProtectedHeader({
          alg: key.publicJwk.alg ?? 'EdDSA',
          typ: 'dpop+jwt',
          jwk: stripKid(key.publicJwk),
        })
        .setIssuedAt(o.iat ?? clock.seconds)
        .sign(key.privateKey);
    },
    async form(path, params, headers = {}) {
      const res = await fetch(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(params).toString(),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    createTask(proof, body) {
      return server.call('POST', '/v1/tasks', { body, token: proof });
    },
    async mint(proof, task, dpopKey) {
      const headers: Record<string, string> = {};
      if (dpopKey) headers.dpop = await h.dpop(dpopKey, 'POST', tokenUrl);
      return h.form(
        '/oauth2/token',
        {
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: proof,
          task,
        },
        headers,
      );
    },
    validate(body) {
      return server.call('POST', '/v1/broker/validate', { body });
    },
  };
  return h;
}

function stripKid(jwk: JWK): JWK {
  const { kid: _kid, alg: _alg, ...rest } = jwk;
  return rest;
}

export const PAYMENTS_API = `spiffe://${SPIFFE_TD}/ns/payments/sa/api`;
export const SUPPORT_BOT = `spiffe://${SPIFFE_TD}/ns/agents/sa/support`;
