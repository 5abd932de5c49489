/**
 * The broker runtime: keys, workload proofs, tasks, minting, validation, exchange and revocation wired
 * together. Routes and the CLI call only this; tests and benchmarks build it in-process.
 */
import type { AuditLog } from '../audit/audit-log.js';
import type { EventBus } from '../events/bus.js';
import type { Identity } from '../inventory/types.js';
import type { BrokerConfig } from './config.js';
import type { DownstreamPlugin, ProvisionedCredential } from './downstream/plugin.js';
import { DownstreamCredentials } from './downstream/downstream-service.js';
import { PostgresPlugin } from './downstream/postgres.js';
import { ExpiringSet } from './dpop/expiring-set.js';
import { verifyDpopProof } from './dpop/proof.js';
import { brokerError } from './errors.js';
import {
  parseRequestedDetails,
  planExchange,
  TOKEN_TYPE_ACCESS,
  TOKEN_TYPE_JWT,
} from './exchange/token-exchange.js';
import { SigningKeys } from './keys/signing-keys.js';
import { RevocationSet, type Revocation, type RevocationKind } from './revocation/revocation-set.js';
import type { BrokerDb } from './tables.js';
import { TaskService, type ApprovalLookup, type DecisionPoint } from './tasks/task-service.js';
import type { Task } from './tasks/task.js';
import type { TaskTokenClaims } from './tokens/claims.js';
import { issueTaskToken, type IssuedToken } from './tokens/issue.js';
import { tokenIssuedEvent, tokenRefusedEvent } from './tokens/events.js';
import { TokenValidator } from './tokens/validate.js';
import { introspectToken } from './introspection/introspect.js';
import { UsedAssertions } from './workload-proof/used-assertions.js';
import { WorkloadProofVerifier, type WorkloadProof } from './workload-proof/verify.js';
import type { ChangeFeed } from '../store/change-feed.js';

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface BrokerDeps {
  db: BrokerDb;
  audit: AuditLog;
  events: EventBus;
  /** Revocations made through other replicas arrive here at once (PostgreSQL); the sweep is the safety net. */
  feed?: ChangeFeed | undefined;
  now: () => Date;
  pdp: () => DecisionPoint;
  approvals?: (() => ApprovalLookup) | undefined;
  masterKey: Buffer;
  config: BrokerConfig;
  /** The server's public base URL (`BULKHEAD_PUBLIC_URL`); the broker's endpoint URLs are built under it. */
  publicUrl: () => string;
  findIdentity: (id: string) => Promise<Identity | undefined>;
  findIdentityBySpiffeId: (spiffeId: string) => Promise<Identity | undefined>;
  /** Downstream credential plugins; default: PostgreSQL when `downstream.postgres` is configured. */
  plugins?: DownstreamPlugin[];
  /** Marks an inventory credential revoked (so revocation by credential reaches the inventory too). */
  revokeCredential?: (
    id: string,
    meta: { actor: string; requestId?: string | undefined },
  ) => Promise<unknown>;
}

export interface TokenRequestContext {
  /** The absolute URL of the token endpoint under the public URL (DPoP `htu`, assertion `aud`). */
  endpointUrl: string;
  dpop: string | undefined;
  requestId?: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  issued_token_type?: string;
  authorization_details: TaskTokenClaims['authorization_details'];
  task: string;
}

export class Broker {
  readonly keys: SigningKeys;
  readonly revocations: RevocationSet;
  readonly tasks: TaskService;
  readonly validator: TokenValidator;
  readonly proofs: WorkloadProofVerifier;
  readonly usedAssertions: UsedAssertions;
  /** DPoP `jti`s seen at the token endpoint and by validations (entries expire with the proof window). */
  readonly replay = new ExpiringSet();
  readonly plugins: DownstreamPlugin[];
  readonly downstream: DownstreamCredentials;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribeFeed: (() => void) | undefined;

  constructor(readonly deps: BrokerDeps) {
    const c = deps.config;
    this.keys = new SigningKeys(deps.db, deps.masterKey, deps.audit, deps.now, c.key_overlap_seconds * 1000);
    this.revocations = new RevocationSet(deps.db, deps.audit, deps.now, (r) =>
      deps.feed?.publish('broker.revocation', {
        kind: r.kind,
        target: r.target,
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
      }),
    );
    this.tasks = new TaskService({
      db: deps.db,
      audit: deps.audit,
      events: deps.events,
      now: deps.now,
      pdp: deps.pdp,
      approvals: deps.approvals,
      revocations: this.revocations,
      limits: {
        maxTtlSeconds: c.max_task_ttl_seconds,
        defaultTtlSeconds: c.default_task_ttl_seconds,
        defaultAudience: c.default_audience,
      },
      onEnded: async (task) => {
        await this.downstream.drop(task.id);
      },
    });
    this.plugins =
      deps.plugins ?? (c.downstream.postgres.length > 0 ? [new PostgresPlugin(c.downstream.postgres)] : []);
    this.downstream = new DownstreamCredentials({
      db: deps.db,
      audit: deps.audit,
      now: deps.now,
      plugins: this.plugins,
      tasks: this.tasks,
    });
    this.validator = new TokenValidator({
      keys: this.keys,
      revocations: this.revocations,
      tasks: this.tasks,
      events: deps.events,
      replay: this.replay,
      now: deps.now,
      issuer: c.issuer,
      dpopWindowSeconds: c.dpop_iat_window_seconds,
      dpopSkewSeconds: c.dpop_clock_skew_seconds,
    });
    this.usedAssertions = new UsedAssertions(deps.db, deps.now);
    this.proofs = new WorkloadProofVerifier(c, {
      usedAssertions: this.usedAssertions,
      findIdentity: deps.findIdentity,
      findIdentityBySpiffeId: deps.findIdentityBySpiffeId,
      now: deps.now,
    });
  }

  async start(): Promise<void> {
    await this.keys.start();
    await this.revocations.load();
    if (this.deps.feed?.distributed) {
      const catchUp = () => {
        this.revocations.poll().catch(() => undefined);
      };
      // In force at once from the message (a forged one could only revoke: the safe direction), then
      // confirmed from the table.
      this.unsubscribeFeed = this.deps.feed.subscribe(
        'broker.revocation',
        (data) => {
          this.revocations.learn(data);
          catchUp();
        },
        catchUp,
      );
    }
    const every = this.deps.config.sweep_interval_ms;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.sweep().catch(() => undefined);
      }, every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.unsubscribeFeed?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.plugins.map((p) => p.close()));
  }

  /** See DownstreamCredentials.issue. */
  issueDownstream(taskId: string, identityId: string, requestId?: string): Promise<ProvisionedCredential[]> {
    return this.downstream.issue(taskId, identityId, requestId);
  }

  /**
   * One sweeper pass: expire due tasks (revoking their tokens), pick up other replicas' revocations, forget
   * what can no longer match (revocations, used client assertion `jti`s), and rotate the signing key when due.
   */
  async sweep(): Promise<{ expired: number }> {
    const expired = await this.tasks.sweep();
    await this.downstream.retryDrops();
    await this.usedAssertions.prune();
    await this.revocations.poll();
    this.revocations.prune();
    await this.revocations.purgeExpired();
    this.replay.prune(this.deps.now().getTime());
    const days = this.deps.config.key_rotation_days;
    if (days > 0 && this.keys.currentAgeMs() > days * 86_400_000)
      await this.keys.rotate('system:broker-sweeper');
    return { expired };
  }

  /**
   * The audiences a client assertion may name: the broker issuer and the URL of the endpoint it is presented
   * to, built from configuration by the caller (never from request headers).
   */
  assertionAudiences(endpointUrl: string): string[] {
    return [this.deps.config.issuer, endpointUrl];
  }

  async proveWorkload(jwt: string | undefined, endpointUrl: string): Promise<WorkloadProof> {
    return this.proofs.verify(jwt, this.assertionAudiences(endpointUrl));
  }

  /** `POST /oauth2/token`: the three grants this broker speaks. */
  async tokenRequest(params: Record<string, string>, ctx: TokenRequestContext): Promise<TokenResponse> {
    const grant = params.grant_type;
    if (grant === undefined)
      throw brokerError('OAUTH_INVALID_REQUEST', 'grant_type is required', { field: 'grant_type' });
    if (grant === GRANT_TOKEN_EXCHANGE) return this.exchange(params, ctx);
    let assertion: string | undefined;
    if (grant === GRANT_CLIENT_CREDENTIALS) {
      if (params.client_assertion_type !== ASSERTION_TYPE_JWT_BEARER) {
        throw brokerError(
          'OAUTH_INVALID_REQUEST',
          `client_assertion_type must be ${ASSERTION_TYPE_JWT_BEARER}`,
          {
            field: 'client_assertion_type',
          },
        );
      }
      assertion = params.client_assertion;
    } else if (grant === GRANT_JWT_BEARER) {
      assertion = params.assertion;
    } else {
      throw brokerError('OAUTH_UNSUPPORTED_GRANT_TYPE', `grant_type ${grant} is not supported`, {
        field: 'grant_type',
      });
    }
    const taskId = params.task;
    if (!taskId) throw brokerError('OAUTH_INVALID_REQUEST', 'task is required', { field: 'task' });
    const proof = await this.proveWorkload(assertion, ctx.endpointUrl);
    const jkt = await this.tokenEndpointDpop(ctx);
    let task = await this.tasks.get(taskId).catch((err: unknown) => {
      throw brokerError('TASK_NOT_FOUND', `task ${taskId} does not exist`, { field: 'task', cause: err });
    });
    if (task.identity !== proof.identity.id) {
      throw brokerError('TASK_IDENTITY_MISMATCH', `task ${task.id} belongs to another identity`, {
        field: 'task',
      });
    }
    if (task.status === 'pending_approval') task = await this.tasks.refreshApprovals(task.id, ctx.requestId);
    this.assertLive(task);
    const issued = await issueTaskToken(this.keys, this.deps.config.issuer, {
      task,
      subject: task.subject,
      clientId: proof.identity.id,
      now: this.deps.now(),
      ttlSeconds: this.deps.config.token_ttl_seconds,
      jkt,
    });
    this.publishIssued(issued, task, proof, false);
    return this.response(issued, task, undefined);
  }

  private async exchange(params: Record<string, string>, ctx: TokenRequestContext): Promise<TokenResponse> {
    const subjectToken = params.subject_token;
    if (!subjectToken)
      throw brokerError('OAUTH_INVALID_REQUEST', 'subject_token is required', { field: 'subject_token' });
    if (params.subject_token_type !== TOKEN_TYPE_ACCESS && params.subject_token_type !== TOKEN_TYPE_JWT) {
      throw brokerError('OAUTH_INVALID_REQUEST', `subject_token_type must be ${TOKEN_TYPE_ACCESS}`, {
        field: 'subject_token_type',
      });
    }
    if (!params.actor_token) {
      throw brokerError(
        'OAUTH_INVALID_REQUEST',
        'actor_token (the actor workload proof) is required for delegation',
        {
          field: 'actor_token',
        },
      );
    }
    if (params.actor_token_type !== TOKEN_TYPE_JWT) {
      throw brokerError('OAUTH_INVALID_REQUEST', `actor_token_type must be ${TOKEN_TYPE_JWT}`, {
        field: 'actor_token_type',
      });
    }
    const requested = parseRequestedDetails(params.authorization_details);
    let subject: TaskTokenClaims;
    try {
      subject = await this.validator.verify(subjectToken);
    } catch (err) {
      this.publishRefused(undefined, err, 'exchange');
      throw err;
    }
    try {
      const actor = await this.proveWorkload(params.actor_token, ctx.endpointUrl);
      // A sender-bound subject token may only be exchanged by its holder: the request's DPoP key must match.
      const jkt = await this.tokenEndpointDpop(ctx);
      if (subject.cnf?.jkt && jkt !== subject.cnf.jkt) {
        throw brokerError(
          jkt ? 'DPOP_KEY_MISMATCH' : 'DPOP_REQUIRED',
          'a DPoP-bound subject token is exchanged only with a proof from its key',
          { field: 'headers.dpop' },
        );
      }
      const task = await this.tasks.get(subject.task);
      this.assertLive(task);
      const plan = await planExchange({
        subject,
        actor,
        task,
        requested,
        audience: params.audience,
        taskParam: params.task,
        maxDepth: this.deps.config.max_delegation_depth,
        pdp: this.deps.pdp(),
        requestId: ctx.requestId,
      });
      const issued = await issueTaskToken(this.keys, this.deps.config.issuer, {
        task,
        subject: subject.sub,
        clientId: actor.identity.id,
        now: this.deps.now(),
        ttlSeconds: this.deps.config.token_ttl_seconds,
        intent: plan.intent,
        jkt,
        act: plan.act,
        parents: plan.parents,
        notAfter: subject.exp,
      });
      this.publishIssued(issued, task, actor, true);
      return this.response(issued, task, TOKEN_TYPE_ACCESS);
    } catch (err) {
      this.publishRefused(subject, err, 'exchange');
      throw err;
    }
  }

  private assertLive(task: Task): void {
    if (task.status === 'pending_approval') {
      throw brokerError('TASK_PENDING_APPROVAL', `task ${task.id} waits for approval`, {
        field: 'task',
        extra: { pending_approvals: task.pending_approvals.map((p) => p.approval_id) },
      });
    }
    if (task.status !== 'active') {
      throw brokerError('TASK_NOT_ACTIVE', `task ${task.id} is ${task.status}`, { field: 'task' });
    }
  }

  private async tokenEndpointDpop(ctx: TokenRequestContext): Promise<string | undefined> {
    if (!ctx.dpop) {
      if (this.deps.config.require_dpop) {
        throw brokerError('DPOP_REQUIRED', 'this broker issues sender-bound tokens only', {
          field: 'headers.dpop',
        });
      }
      return undefined;
    }
    const { jkt } = await verifyDpopProof(ctx.dpop, {
      method: 'POST',
      url: ctx.endpointUrl,
      now: this.deps.now(),
      iatWindowSeconds: this.deps.config.dpop_iat_window_seconds,
      skewSeconds: this.deps.config.dpop_clock_skew_seconds,
      replay: this.replay,
    });
    return jkt;
  }

  private response(issued: IssuedToken, task: Task, issuedTokenType: string | undefined): TokenResponse {
    return {
      access_token: issued.token,
      token_type: issued.claims.cnf ? 'DPoP' : 'Bearer',
      expires_in: issued.expiresIn,
      ...(issuedTokenType ? { issued_token_type: issuedTokenType } : {}),
      authorization_details: issued.claims.authorization_details,
      task: task.id,
    };
  }

  private publishIssued(issued: IssuedToken, task: Task, proof: WorkloadProof, exchange: boolean): void {
    this.deps.events.publish(tokenIssuedEvent(issued.claims, task, proof, exchange, this.deps.now()));
  }

  private publishRefused(subject: TaskTokenClaims | undefined, err: unknown, stage: string): void {
    this.deps.events.publish(tokenRefusedEvent(subject, err, stage, this.deps.now()));
  }

  /** RFC 7662 (see introspection/introspect.ts). */
  introspect(token: string): Promise<Record<string, unknown>> {
    return introspectToken(token, this.validator, this.tasks);
  }

  /**
   * RFC 7009: revokes a token presented by anyone who holds it (revoking only ever reduces access). A token
   * that does not verify is ignored, as §2.2 asks, so junk cannot fill the revocation table.
   */
  async revokeToken(token: string, actor: string, requestId?: string): Promise<Revocation | undefined> {
    let claims: TaskTokenClaims;
    try {
      claims = await this.validator.verify(token);
    } catch {
      return undefined;
    }
    return this.revoke({
      kind: 'token',
      target: claims.jti,
      expiresAt: new Date(claims.exp * 1000).toISOString(),
      reason: 'revoked by token holder',
      actor,
      requestId,
      identityId: claims.client_id,
      taskId: claims.task,
    });
  }

  /** Durable revocation of a token (jti), task, identity or credential; acknowledged only once stored. */
  async revoke(input: {
    kind: RevocationKind;
    target: string;
    expiresAt?: string | null | undefined;
    reason: string | null;
    actor: string;
    requestId?: string | undefined;
    identityId?: string | undefined;
    taskId?: string | undefined;
  }): Promise<Revocation> {
    if (input.kind === 'task') {
      await this.tasks.end(input.target, 'revoked', input.actor, input.requestId, input.reason);
      const found = await this.deps.db
        .selectFrom('broker_revocations')
        .selectAll()
        .where('kind', '=', 'task')
        .where('target', '=', input.target)
        .orderBy('revoked_at', 'desc')
        .executeTakeFirstOrThrow();
      return found as Revocation;
    }
    if (input.kind === 'credential' && this.deps.revokeCredential) {
      await this.deps.revokeCredential(input.target, { actor: input.actor, requestId: input.requestId });
    }
    // Tokens live at most one TTL after issue, and every token a jti or identity revocation covers was issued
    // before it: after TTL (+ skew) the entry can match nothing, so the set stays bounded by token lifetime.
    const bounded =
      input.kind === 'token' || input.kind === 'identity'
        ? new Date(this.deps.now().getTime() + (this.deps.config.token_ttl_seconds + 60) * 1000).toISOString()
        : null;
    const r = await this.revocations.revoke({
      kind: input.kind,
      target: input.target,
      expiresAt: input.expiresAt ?? bounded,
      reason: input.reason,
      actor: input.actor,
      requestId: input.requestId,
    });
    this.deps.events.publish({
      id: r.id,
      time: r.revoked_at,
      type: 'token.revoked',
      source: 'broker',
      identityId: input.identityId ?? (input.kind === 'identity' ? input.target : undefined),
      outcome: 'success',
      data: { scope: input.kind, target: input.target, reason: input.reason, taskId: input.taskId },
    });
    return r;
  }
}
