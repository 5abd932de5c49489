/**
 * The respond service: alerts in (`alert.raised` on the bus, leak reports, the API), incidents out. For each
 * alert it computes the identity's tier, picks the playbook, plans the run against the dependency map and
 * hands it to the executor; approvals, acknowledgement and resolution come through the API.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Transaction } from 'kysely';
import type { AppContext } from '../app-context.js';
import type { Severity } from '../detect/alert.js';
import { SEVERITIES } from '../detect/alert.js';
import type { BulkheadEvent } from '../events/bus.js';
import type { Credential, Identity, Resource } from '../inventory/types.js';
import type { Database } from '../store/database.js';
import { BreakGlassService } from './breakglass.js';
import { DEFAULT_PLAYBOOKS } from './default-playbooks.js';
import type { LeakFinding } from './leaks.js';
import { InventoryDependencyMap, type DependencyMap } from './dependency-map.js';
import { respondError } from './errors.js';
import { RunExecutor } from './executor.js';
import { NARROWED_LABEL } from './actions.js';
import type { DecisionPoint, Notifier, SignalSender, TokenAuthority, UsageSource } from './handles.js';
import { describeNarrowing, planNarrowing, sameScopes, type NarrowingPlan } from './narrow.js';
import { needsOwnRun, planRun, plansContainment, type PlannedStep, type RunFacts } from './plan.js';
import { parsePlaybook, playbookMatches, type ParsedPlaybook, type Playbook } from './playbook.js';
import { RotationService } from './rotation.js';
import * as store from './store.js';
import { respondDb, type RespondDb } from './tables.js';
import { computeTier, reachFromScopes, type GraphTierFacts, type Tier, type TierResult } from './tiers.js';

/** Write actions asked of the PDP for regulated resources (names used by Bulkhead's policies and demo). */
const POLICY_WRITE_ACTIONS = ['write', 'update', 'delete'];

export interface RespondOptions {
  pdp?: (() => DecisionPoint) | undefined;
  broker?: (() => TokenAuthority | undefined) | undefined;
  notifier?: Notifier | undefined;
  /** Granted vs used per identity (posture), for `narrow_permissions`. */
  usage?: (() => UsageSource | undefined) | undefined;
  /** Shared Signals push (detection's SET sender), for `notify`. */
  signals?: (() => SignalSender | undefined) | undefined;
  dependencyMap?: DependencyMap | undefined;
  /** Stores an alert respond raised itself (a leak match) where alerts are listed (detect's store). */
  recordAlert?: ((alert: AlertInput & { detail: string }) => Promise<void>) | undefined;
  /** Looks up when the first event of a detect alert happened (for time to detect). */
  alertFirstSeen?: ((alertId: string) => Promise<string | undefined>) | undefined;
  retryBaseMs?: number | undefined;
  retries?: number | undefined;
  /** Run lease length: a replica that dies mid-run is taken over after this long. */
  leaseMs?: number | undefined;
  /** How often due rotations, break-glass TTLs and orphaned runs are handled (0 = only on demand). */
  rotationTickMs?: number | undefined;
}

/** An alert as respond needs it (from detect's `alert.raised`, a leak report or the API). */
export interface AlertInput {
  id: string;
  ruleId: string;
  severity: Severity;
  title: string;
  identityId: string | null;
  /** A credential id or a key id / fingerprint as named by the source. */
  credential: string | null;
  firstSeen?: string | undefined;
  leaked?: boolean | undefined;
  taskId?: string | undefined;
}

export interface StoredPlaybook {
  id: string;
  version: number;
  sha256: string;
  builtin: boolean;
  createdAt: string | null;
  createdBy: string | null;
  playbook: Playbook;
  yaml: string;
}

export interface IncidentDetail extends store.Incident {
  timeline: store.TimelineEntry[];
  runs: store.RunRecord[];
}

export interface DryRunResult {
  playbook: { id: string; version: number; mode: string } | null;
  tier: TierResult | null;
  facts: RunFacts;
  steps: PlannedStep[];
}

export interface LeakImportResult {
  findings: number;
  matched: {
    index: number;
    credentialId: string;
    identityId: string;
    alertId: string;
    incidentId: string | null;
    state: string | null;
    timeToContainMs: number | null;
    /** Other workloads that used the revoked credential and will now fail (they must switch). */
    willBreak: string[];
  }[];
  unmatched: { index: number; scanner: string; rule: string; location: string; secretHashPrefix: string }[];
}

export class RespondService {
  readonly db: RespondDb;
  readonly rotations: RotationService;
  readonly breakGlass: BreakGlassService;
  readonly executor: RunExecutor;
  readonly dependencies: DependencyMap;
  private playbooks: StoredPlaybook[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private readonly perIdentity = new Map<string, Promise<unknown>>();
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly options: RespondOptions = {},
  ) {
    this.db = respondDb(ctx.db);
    this.dependencies = options.dependencyMap ?? new InventoryDependencyMap(ctx.inventory);
    this.rotations = new RotationService(this.db, ctx.inventory, ctx.now, options.notifier);
    this.breakGlass = new BreakGlassService(this.db, ctx.inventory, ctx.now, (alert) =>
      this.handleAlert(alert),
    );
    this.executor = new RunExecutor(
      {
        db: this.db,
        audit: ctx.audit,
        now: ctx.now,
        actions: {
          inventory: ctx.inventory,
          get pdp() {
            return options.pdp?.();
          },
          get broker() {
            return options.broker?.();
          },
          notifier: options.notifier,
          get usage() {
            return options.usage?.();
          },
          get signals() {
            return options.signals?.();
          },
          rotations: this.rotations,
        },
        onContained: async (incidentId, runId, at, trx) => {
          const i = await store.findIncident(trx, incidentId);
          if (!i || i.containedAt) return;
          const runs = await trx
            .selectFrom('respond_runs')
            .select(['id', 'state', 'playbook_id', 'facts'])
            .where('incident_id', '=', incidentId)
            .execute();
          // Another alert's run still containing (or waiting for approval) keeps the incident open.
          if (runs.some((r) => r.id !== runId && (r.state === 'running' || r.state === 'awaiting_approval')))
            return;
          // So does a run that failed: what it acted on is not contained, unless a later run of the same
          // playbook on the same credential and task has since verified.
          const verified = runs.filter((r) => r.id === runId || r.state === 'completed');
          const uncontained = runs.some(
            (f) =>
              f.state === 'failed' &&
              !verified.some((v) => v.playbook_id === f.playbook_id && sameTarget(v.facts, f.facts)),
          );
          if (uncontained) return;
          i.containedAt = at.toISOString();
          i.timeToContainMs = Math.max(0, at.getTime() - Date.parse(i.detectedAt));
          if (i.state === 'open') i.state = 'contained';
          i.updatedAt = at.toISOString();
          await store.updateIncident(trx, i);
          await store.appendTimeline(trx, incidentId, {
            at: i.containedAt,
            kind: 'incident.contained',
            message: `contained and verified ${i.timeToContainMs} ms after the alert`,
            data: { timeToContainMs: i.timeToContainMs },
          });
        },
      },
      {
        retryBaseMs: options.retryBaseMs ?? 200,
        retries: options.retries ?? 3,
        owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
        leaseMs: options.leaseMs ?? 30_000,
      },
    );
  }

  async start(): Promise<void> {
    await this.reloadPlaybooks();
    await this.rotations.loadWatched();
    this.unsubscribe.push(
      this.ctx.events.subscribe('alert.raised', (event) => {
        if (event.source === 'respond') return;
        this.track(this.handleAlert(alertFromEvent(event)));
      }),
    );
    // Credential use observed anywhere feeds the rotation report ("who still uses the old one?").
    this.unsubscribe.push(
      this.ctx.events.subscribe('*', (event) => {
        if (!event.credentialId || !event.identityId || event.type === 'alert.raised') return;
        this.track(this.rotations.recordUse(event.credentialId, event.identityId, event.time));
      }),
    );
    if (this.ctx.dialect === 'sqlite') {
      // One process owns a SQLite file: every lease found at start belongs to a process that is gone.
      await this.db
        .updateTable('respond_runs')
        .set({ lease_owner: null, lease_until: null })
        .where('state', '=', 'running')
        .execute();
    }
    await this.resumeOrphanedRuns();
    await this.breakGlass.endExpired({ actor: 'respond:break-glass' });
    const tick = this.options.rotationTickMs ?? 5000;
    if (tick > 0) {
      // Overlaps and break-glass TTLs end on time, whichever replica gets there first (both are idempotent).
      this.timer = setInterval(() => {
        this.track(this.rotations.completeDue({ actor: 'respond:rotation' }));
        this.track(this.breakGlass.endExpired({ actor: 'respond:break-glass' }));
        this.track(this.resumeOrphanedRuns());
      }, tick);
      this.timer.unref();
    }
  }

  /** Continues runs left mid-way by a crash (here or on a replica whose lease ran out). */
  async resumeOrphanedRuns(): Promise<void> {
    for (const id of await store.unfinishedRunIds(this.db, this.ctx.now().toISOString())) {
      this.track(this.executor.execute(id));
    }
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** Resolves when every alert handed in so far has been processed as far as it can go. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.executor.idle();
  }

  private track(p: Promise<unknown>): void {
    const t = p
      .catch((err: unknown) => this.ctx.log.error({ err }, 'respond: background work failed'))
      .finally(() => this.pending.delete(t));
    this.pending.add(t);
  }

  // ---- tiers ----

  async tier(identityId: string): Promise<TierResult> {
    const identity = await this.ctx.inventory.getIdentity(identityId);
    return this.tierOf(identity, await this.dependencies.resources());
  }

  private async tierOf(
    identity: Identity,
    resources: Map<string, Resource>,
    graphFacts?: Map<string, GraphTierFacts>,
  ): Promise<TierResult> {
    const credentials = await this.dependencies.credentialsOf(identity.id);
    const reach =
      (await this.dependencies.reachOf?.(identity.id, resources)) ?? reachFromScopes(credentials, resources);
    return computeTier({
      identity,
      credentials,
      reach,
      graph: graphFacts
        ? (graphFacts.get(identity.id) ?? { escalations: [], admin: [] })
        : await this.dependencies.graphFactsOf?.(identity.id),
      policyRegulatedWrites: await this.policyRegulatedWrites(identity.id, resources),
      now: this.ctx.now(),
    });
  }

  /**
   * Regulated resources the active policy set lets the identity write to: one side-effect-free decision per
   * regulated resource and write action (bounded; skipped without a PDP or an active policy).
   */
  private async policyRegulatedWrites(
    identityId: string,
    resources: Map<string, Resource>,
  ): Promise<{ resource: string; action: string }[] | undefined> {
    const pdp = this.options.pdp?.();
    if (!pdp) return undefined;
    const regulated = [...resources.values()].filter((r) => r.sensitivity === 'regulated').slice(0, 50);
    const out: { resource: string; action: string }[] = [];
    for (const r of regulated) {
      for (const action of POLICY_WRITE_ACTIONS) {
        try {
          const d = await pdp.decide(
            { principal: { id: identityId }, action, resource: { id: r.id } },
            undefined,
            { sideEffects: false },
          );
          if (d.decision) {
            out.push({ resource: r.id, action });
            break;
          }
        } catch {
          return out; // no policy / unknown entity: nothing the policy set grants can be read here
        }
      }
    }
    return out;
  }

  /**
   * Tiers of one page of identities, in the inventory's id order (its cursor). A tier costs credential, reach
   * and policy look-ups, so a request computes at most `limit` of them: all 10k at once held the server for
   * seconds. With `only`, identities of other tiers are left out, so a page may be shorter than `limit` (even
   * empty) while `next_cursor` says more follow.
   */
  async tiersPage(q: { only?: Tier | undefined; limit: number; cursor?: string | undefined }): Promise<{
    items: TierResult[];
    next_cursor: string | null;
  }> {
    const page = await this.ctx.inventory.listIdentities({ limit: q.limit, cursor: q.cursor });
    const resources = await this.dependencies.resources();
    const graphFacts = await this.dependencies.graphFactsOfMany?.(page.items.map((i) => i.id));
    const items: TierResult[] = [];
    for (const identity of page.items) {
      const t = await this.tierOf(identity, resources, graphFacts);
      if (!q.only || t.tier === q.only) items.push(t);
    }
    return { items, next_cursor: page.next_cursor };
  }

  // ---- playbooks ----

  async reloadPlaybooks(): Promise<void> {
    const stored = await store.latestPlaybookRows(this.db);
    const byId = new Map<string, StoredPlaybook>();
    for (const [id, yaml] of Object.entries(DEFAULT_PLAYBOOKS)) {
      const p = parsePlaybook(yaml);
      byId.set(id, {
        id,
        version: 0,
        sha256: p.sha256,
        builtin: true,
        createdAt: null,
        createdBy: null,
        playbook: p.playbook,
        yaml,
      });
    }
    for (const r of stored) {
      try {
        const p = parsePlaybook(r.yaml);
        byId.set(r.id, {
          id: r.id,
          version: r.version,
          sha256: r.sha256,
          builtin: false,
          createdAt: r.created_at,
          createdBy: r.created_by,
          playbook: p.playbook,
          yaml: r.yaml,
        });
      } catch (err) {
        this.ctx.log.error(
          { err, playbook: r.id },
          'stored playbook no longer validates; keeping the previous one',
        );
      }
    }
    this.playbooks = [...byId.values()].sort(
      (a, b) => a.playbook.priority - b.playbook.priority || a.id.localeCompare(b.id),
    );
  }

  listPlaybooks(): StoredPlaybook[] {
    return this.playbooks;
  }

  getPlaybook(id: string): StoredPlaybook {
    const p = this.playbooks.find((x) => x.id === id);
    if (!p)
      throw respondError('RESPOND_PLAYBOOK_NOT_FOUND', `playbook ${id} does not exist`, {
        field: 'params.id',
      });
    return p;
  }

  /** Stores a new version (validated first). Same content as the latest version is a no-op. */
  async putPlaybook(yaml: string, actor: string, requestId?: string): Promise<StoredPlaybook> {
    const parsed: ParsedPlaybook = parsePlaybook(yaml);
    const id = parsed.playbook.id;
    const now = this.ctx.now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const versions = await store.playbookVersions(trx, id);
      const latest = versions[0];
      if (latest?.sha256 === parsed.sha256) return;
      const version = (latest?.version ?? 0) + 1;
      await trx
        .insertInto('respond_playbooks')
        .values({ id, version, yaml, sha256: parsed.sha256, created_at: now, created_by: actor })
        .execute();
      await this.ctx.audit.record(trx as unknown as Transaction<Database>, {
        actor,
        action: 'playbook.put',
        targetType: 'playbook',
        targetId: id,
        requestId,
        before: latest ? { version: latest.version, sha256: latest.sha256 } : null,
        after: { version, sha256: parsed.sha256, mode: parsed.playbook.mode },
      });
    });
    await this.reloadPlaybooks();
    return this.getPlaybook(id);
  }

  private async resolveCredential(ref: string | null): Promise<Credential | undefined> {
    if (!ref) return undefined;
    const byId = await this.ctx.inventory.findCredential(ref).catch(() => undefined);
    if (byId) return byId;
    const page = await this.ctx.inventory
      .listCredentials({ fingerprint: ref, limit: 2 })
      .catch(() => undefined);
    return page?.items[0];
  }

  /** The inventory credential and identity an alert is about (the identity named, else the credential's). */
  private async subjectOf(
    alert: AlertInput,
  ): Promise<{ credential: Credential | undefined; identityId: string | null }> {
    const credential = await this.resolveCredential(alert.credential);
    let identityId = alert.identityId;
    if (identityId && !(await this.ctx.inventory.findIdentity(identityId))) identityId = null;
    return { credential, identityId: identityId ?? credential?.identityId ?? null };
  }

  private async factsFor(alert: AlertInput): Promise<{ facts: RunFacts; tier: TierResult | null }> {
    const { credential, identityId } = await this.subjectOf(alert);
    const tier = identityId ? await this.tier(identityId) : null;
    return {
      tier,
      facts: {
        alertId: alert.id,
        alertTitle: alert.title,
        ruleId: alert.ruleId,
        severity: alert.severity,
        identityId,
        credentialId: credential?.id ?? null,
        // An identity we cannot place is handled as the most critical tier: fail safe.
        tier: tier?.tier ?? 'T0',
        leaked: alert.leaked === true || alert.ruleId === 'leaked-secret',
        taskId: alert.taskId,
      },
    };
  }

  private async plan(p: Playbook, facts: RunFacts): Promise<PlannedStep[]> {
    // The compromised identity losing access is the point; any *other* consumer is collateral.
    const credentialConsumers = facts.credentialId
      ? (await this.dependencies.consumersOf(facts.credentialId)).filter(
          (d) => d.identityId !== facts.identityId,
        )
      : [];
    const identityDependents = facts.identityId ? await this.dependencies.dependentsOf(facts.identityId) : [];
    const steps = planRun(p, facts, { credentialConsumers, identityDependents });
    for (const s of steps) {
      if (s.action === 'narrow_permissions' && s.disposition !== 'skip' && facts.identityId) {
        s.preview = await this.narrowingPreview(facts.identityId);
        s.reason = `${s.reason}; ${String(s.preview.summary)}`;
      }
    }
    return steps;
  }

  /** The scope diff `narrow_permissions` would apply now (dry runs and plans show it). */
  private async narrowingPreview(identityId: string): Promise<Record<string, unknown>> {
    let usage: Awaited<ReturnType<UsageSource['usageOf']>> | undefined;
    try {
      usage = await this.options.usage?.()?.usageOf(identityId);
    } catch (err) {
      // A preview never blocks containment; the step itself retries and reports.
      return { summary: `usage data unavailable: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!usage?.observed) return { summary: 'no usage data: would narrow nothing', usageData: false };
    const credentials = await this.dependencies.credentialsOf(identityId);
    const plan = planNarrowing(credentials, usage);
    return {
      summary:
        plan.changes.length > 0
          ? `would narrow ${describeNarrowing(plan)}`
          : 'nothing to narrow: every scope was used',
      usageData: true,
      ...plan,
    };
  }

  /**
   * Undoes a `narrow_permissions` step: every credential it narrowed gets its previous scopes back (from the
   * step journal), audited as `credential.restore`. A credential changed since (by someone else) is left alone
   * and reported.
   */
  async restoreNarrowed(
    incidentId: string,
    stepId: string,
    actor: string,
    requestId?: string,
  ): Promise<{ restored: string[]; skipped: { credentialId: string; why: string }[] }> {
    const runs = await store.runsOfIncident(this.db, incidentId);
    if (runs.length === 0) await this.incident(incidentId); // 404 when the incident does not exist
    const step = runs.flatMap((r) => r.steps).find((x) => x.stepId === stepId);
    if (!step || step.action !== 'narrow_permissions') {
      throw respondError(
        'RESPOND_STEP_NOT_FOUND',
        `incident ${incidentId} has no narrow_permissions step ${stepId}`,
        {
          field: 'params.step',
        },
      );
    }
    const result = step.result as {
      data?: { narrowing?: NarrowingPlan };
      intent?: { narrowing?: NarrowingPlan };
    } | null;
    const plan = result?.data?.narrowing ?? result?.intent?.narrowing;
    if (!plan) {
      throw respondError('RESPOND_NOTHING_TO_RESTORE', `step ${stepId} narrowed nothing`, {
        field: 'params.step',
      });
    }
    const restored: string[] = [];
    const skipped: { credentialId: string; why: string }[] = [];
    for (const change of plan.changes) {
      const c = await this.ctx.inventory.findCredential(change.credentialId);
      if (!c) {
        skipped.push({ credentialId: change.credentialId, why: 'no longer in the inventory' });
      } else if (sameScopes(c.scopes, change.before)) {
        skipped.push({ credentialId: c.id, why: 'already has its previous scopes' });
      } else if (!sameScopes(c.scopes, change.after)) {
        skipped.push({ credentialId: c.id, why: 'scopes changed since the step; not overwritten' });
      } else {
        const labels = { ...c.labels };
        delete labels[NARROWED_LABEL];
        await this.ctx.inventory.updateCredential(
          c.id,
          { scopes: change.before, labels },
          { actor, requestId },
          'credential.restore',
        );
        restored.push(c.id);
      }
    }
    await this.db.transaction().execute(async (trx) => {
      await store.appendTimeline(trx, incidentId, {
        at: this.ctx.now().toISOString(),
        kind: 'step.restored',
        message: `${stepId} (narrow_permissions) undone by ${actor}: ${restored.length} credential(s) restored`,
        data: { stepId, restored, skipped },
      });
    });
    return { restored, skipped };
  }

  matchPlaybook(facts: RunFacts): StoredPlaybook | undefined {
    return this.playbooks.find((p) =>
      playbookMatches(p.playbook, {
        ruleId: facts.ruleId,
        severity: facts.severity as Severity,
        tier: facts.tier,
      }),
    );
  }

  /** What a playbook (the matching one, or the named one) would do for an alert; changes nothing. */
  async dryRun(alert: AlertInput, playbookId?: string): Promise<DryRunResult> {
    const { facts, tier } = await this.factsFor(alert);
    const stored = playbookId ? this.getPlaybook(playbookId) : this.matchPlaybook(facts);
    if (!stored) return { playbook: null, tier, facts, steps: [] };
    return {
      playbook: { id: stored.id, version: stored.version, mode: stored.playbook.mode },
      tier,
      facts,
      steps: await this.plan(stored.playbook, facts),
    };
  }

  // ---- alerts → incidents ----

  /** Handles one alert: group into the identity's incident, run the matching playbook. */
  async handleAlert(alert: AlertInput): Promise<store.Incident | undefined> {
    // Serialised on the identity as resolved: an alert may name only one of its credentials.
    const { identityId } = await this.subjectOf(alert);
    const key = identityId ?? alert.credential ?? alert.id;
    const previous = this.perIdentity.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.handleAlertNow(alert));
    this.perIdentity.set(key, next);
    void next
      .finally(() => {
        if (this.perIdentity.get(key) === next) this.perIdentity.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  private async handleAlertNow(alert: AlertInput): Promise<store.Incident | undefined> {
    const detectedAt = this.ctx.now();
    const { facts, tier } = await this.factsFor(alert);
    const stored = this.matchPlaybook(facts);
    const firstSeen = utcInstant(
      alert.firstSeen ?? (await this.options.alertFirstSeen?.(alert.id).catch(() => undefined)),
    );
    const steps = stored ? await this.plan(stored.playbook, facts) : [];
    const dryRun = stored?.playbook.mode === 'dry_run';
    const nowIso = detectedAt.toISOString();
    // Read before the transaction: on SQLite a query outside it would wait for the connection it holds.
    const identity = facts.identityId ? await this.ctx.inventory.findIdentity(facts.identityId) : undefined;
    let runId: string | undefined;
    const incidentId = await this.db.transaction().execute(async (trx) => {
      if (facts.identityId && this.ctx.dialect === 'postgres') {
        await store.lockIdentityIncidents(trx, facts.identityId);
      }
      let incident = facts.identityId ? await store.findOpenIncidentFor(trx, facts.identityId) : undefined;
      if (incident && incident.alertIds.includes(alert.id)) return incident.id;
      if (incident) {
        incident.alertIds = [...incident.alertIds, alert.id];
        if (!incident.ruleIds.includes(alert.ruleId)) incident.ruleIds = [...incident.ruleIds, alert.ruleId];
        if (SEVERITIES.indexOf(alert.severity) > SEVERITIES.indexOf(incident.severity as Severity)) {
          incident.severity = alert.severity;
        }
        incident.updatedAt = nowIso;
        await store.updateIncident(trx, incident);
      } else {
        const first = firstSeen && firstSeen <= nowIso ? firstSeen : null;
        incident = {
          id: `inc-${randomBytes(8).toString('hex')}`,
          title: `${alert.title}${facts.identityId ? ` (${facts.identityId})` : ''}`,
          state: 'open',
          owner: identity?.owners[0] ?? null,
          identityId: facts.identityId,
          credentialId: facts.credentialId,
          tier: facts.tier,
          severity: alert.severity,
          ruleIds: [alert.ruleId],
          alertIds: [alert.id],
          firstEventAt: first,
          detectedAt: nowIso,
          acknowledgedAt: null,
          containedAt: null,
          resolvedAt: null,
          timeToDetectMs: first ? detectedAt.getTime() - Date.parse(first) : null,
          timeToContainMs: null,
          createdAt: nowIso,
          updatedAt: nowIso,
        };
        await store.insertIncident(trx, incident);
        await this.ctx.audit.record(trx as unknown as Transaction<Database>, {
          actor: 'respond',
          action: 'incident.open',
          targetType: 'incident',
          targetId: incident.id,
          after: { alert: alert.id, rule: alert.ruleId, identity: facts.identityId, tier: facts.tier },
        });
      }
      await store.appendTimeline(trx, incident.id, {
        at: nowIso,
        kind: 'alert',
        message: `${alert.ruleId} (${alert.severity}): ${alert.title}`,
        data: {
          alertId: alert.id,
          credential: facts.credentialId,
          tier: tier ? { tier: tier.tier, reasons: tier.reasons } : null,
        },
      });
      if (!stored) {
        await store.appendTimeline(trx, incident.id, {
          at: nowIso,
          kind: 'playbook.none',
          message: 'no playbook matches this alert',
          data: {},
        });
        return incident.id;
      }
      const existing = await trx
        .selectFrom('respond_runs')
        .select('facts')
        .where('incident_id', '=', incident.id)
        .where('playbook_id', '=', stored.id)
        .where('state', '!=', 'failed')
        .execute();
      if (
        !needsOwnRun(
          facts,
          existing.map((r) => JSON.parse(r.facts) as RunFacts),
        )
      )
        return incident.id;
      if (incident.state === 'contained' && !dryRun && plansContainment(steps)) {
        // What this alert adds is not contained yet: the incident is open again until its run verifies.
        const before = { state: incident.state, containedAt: incident.containedAt };
        incident.state = 'open';
        incident.containedAt = null;
        incident.timeToContainMs = null;
        await store.updateIncident(trx, incident);
        await store.appendTimeline(trx, incident.id, {
          at: nowIso,
          kind: 'incident.reopen',
          message: `reopened by ${alert.id} (${alert.ruleId}): ${facts.credentialId ?? facts.taskId ?? facts.identityId} is not contained yet`,
          data: { alertId: alert.id, ...before },
        });
        await this.ctx.audit.record(trx as unknown as Transaction<Database>, {
          actor: 'respond',
          action: 'incident.reopen',
          targetType: 'incident',
          targetId: incident.id,
          before,
          after: { state: incident.state, alert: alert.id },
        });
      }
      runId = `run-${randomBytes(8).toString('hex')}`;
      const retriesOf = new Map(stored.playbook.steps.map((s) => [s.id, s.retries]));
      await store.insertRun(
        trx,
        {
          id: runId,
          incidentId: incident.id,
          playbookId: stored.id,
          playbookVersion: stored.version,
          dryRun,
          state: dryRun ? 'completed' : 'running',
          facts,
          createdAt: nowIso,
          updatedAt: nowIso,
        },
        steps.map((s) => ({ ...s, params: { ...s.params, __retries: retriesOf.get(s.stepId) ?? 3 } })),
        (s) =>
          dryRun
            ? 'dry_run'
            : s.disposition === 'run'
              ? 'pending'
              : s.disposition === 'approval'
                ? 'awaiting_approval'
                : 'skipped',
      );
      await store.appendTimeline(trx, incident.id, {
        at: nowIso,
        kind: dryRun ? 'playbook.dry_run' : 'playbook.started',
        message: `${stored.id}@${stored.version} ${dryRun ? 'dry run: would' : 'will'} ${steps
          .map((s) => `${s.action}=${s.disposition}`)
          .join(', ')}`,
        data: {
          runId,
          steps: steps.map((s) => ({
            step: s.stepId,
            action: s.action,
            disposition: s.disposition,
            reason: s.reason,
            breaks: s.breaks,
            ...(s.preview ? { preview: s.preview } : {}),
          })),
        },
      });
      return incident.id;
    });
    if (runId && !dryRun) await this.executor.execute(runId);
    return store.findIncident(this.db, incidentId);
  }

  // ---- leaked secrets ----

  /**
   * Matches leak findings to inventory credentials, raises a `leaked-secret` alert for each match and runs the
   * leaked-credential playbook (revoke now, list what breaks). Unmatched findings are reported, not stored.
   */
  async importLeaks(findings: LeakFinding[]): Promise<LeakImportResult> {
    const matched: LeakImportResult['matched'] = [];
    const unmatched: LeakImportResult['unmatched'] = [];
    for (const f of findings) {
      let credential: Credential | undefined;
      for (const fp of f.fingerprints) {
        credential = (await this.ctx.inventory.listCredentials({ fingerprint: fp, limit: 1 })).items[0];
        if (credential) break;
      }
      if (!credential) {
        unmatched.push({
          index: f.index,
          scanner: f.scanner,
          rule: f.rule,
          location: f.location,
          secretHashPrefix: f.secretHashPrefix,
        });
        continue;
      }
      const alert: AlertInput = {
        id: `alert-leak-${createHash('sha256').update(`${credential.id}|${f.secretHashPrefix}|${f.location}`).digest('hex').slice(0, 16)}`,
        ruleId: 'leaked-secret',
        severity: 'critical',
        title: `Secret of ${credential.id} exposed (${f.scanner}: ${f.location})`,
        identityId: credential.identityId,
        credential: credential.id,
        firstSeen: f.exposedAt ?? undefined,
        leaked: true,
      };
      await this.options
        .recordAlert?.({ ...alert, detail: `${f.scanner} rule ${f.rule} at ${f.location}` })
        .catch((err: unknown) => this.ctx.log.warn({ err }, 'could not store the leak alert'));
      this.ctx.events.publish({
        id: alert.id,
        time: this.ctx.now().toISOString(),
        type: 'alert.raised',
        source: 'respond',
        identityId: credential.identityId,
        credentialId: credential.id,
        action: 'leaked-secret',
        data: {
          rule_id: 'leaked-secret',
          severity: 'critical',
          title: alert.title,
          credential: credential.id,
          leaked: true,
          location: f.location,
          verified: f.verified,
        },
      });
      const incident = await this.handleAlert(alert);
      const detail = incident ? await this.incident(incident.id) : undefined;
      const willBreak =
        detail?.runs.flatMap((r) => r.steps.flatMap((s) => s.breaks.map((b) => b.identityId))) ?? [];
      matched.push({
        index: f.index,
        credentialId: credential.id,
        identityId: credential.identityId,
        alertId: alert.id,
        incidentId: incident?.id ?? null,
        state: incident?.state ?? null,
        timeToContainMs: incident?.timeToContainMs ?? null,
        willBreak: [...new Set(willBreak)],
      });
    }
    return { findings: findings.length, matched, unmatched };
  }

  // ---- incidents ----

  async listIncidents(q: store.IncidentQuery): Promise<store.Incident[]> {
    return store.listIncidents(this.db, q);
  }

  async incident(id: string): Promise<IncidentDetail> {
    const i = await store.findIncident(this.db, id);
    if (!i)
      throw respondError('RESPOND_INCIDENT_NOT_FOUND', `incident ${id} does not exist`, {
        field: 'params.id',
      });
    return {
      ...i,
      timeline: await store.listTimeline(this.db, id),
      runs: await store.runsOfIncident(this.db, id),
    };
  }

  async acknowledge(
    id: string,
    owner: string | undefined,
    actor: string,
    requestId?: string,
  ): Promise<IncidentDetail> {
    await this.transition(id, actor, requestId, (i, now) => {
      if (i.state === 'resolved')
        throw respondError('RESPOND_BAD_TRANSITION', `incident ${id} is resolved`, { field: 'params.id' });
      i.acknowledgedAt ??= now;
      if (owner) i.owner = owner;
      return { kind: 'incident.ack', message: `acknowledged by ${actor}${owner ? `, owner ${owner}` : ''}` };
    });
    return this.incident(id);
  }

  async resolve(
    id: string,
    note: string | undefined,
    actor: string,
    requestId?: string,
  ): Promise<IncidentDetail> {
    await this.transition(id, actor, requestId, (i, now) => {
      if (i.state === 'resolved')
        throw respondError('RESPOND_BAD_TRANSITION', `incident ${id} is already resolved`, {
          field: 'params.id',
        });
      i.state = 'resolved';
      i.resolvedAt = now;
      return { kind: 'incident.resolve', message: `resolved by ${actor}${note ? `: ${note}` : ''}` };
    });
    return this.incident(id);
  }

  private async transition(
    id: string,
    actor: string,
    requestId: string | undefined,
    change: (i: store.Incident, now: string) => { kind: string; message: string },
  ): Promise<void> {
    const now = this.ctx.now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const i = await store.findIncident(trx, id);
      if (!i)
        throw respondError('RESPOND_INCIDENT_NOT_FOUND', `incident ${id} does not exist`, {
          field: 'params.id',
        });
      const before = { ...i };
      const entry = change(i, now);
      i.updatedAt = now;
      await store.updateIncident(trx, i);
      await store.appendTimeline(trx, id, { at: now, kind: entry.kind, message: entry.message, data: {} });
      await this.ctx.audit.record(trx as unknown as Transaction<Database>, {
        actor,
        action: entry.kind,
        targetType: 'incident',
        targetId: id,
        requestId,
        before: { state: before.state, owner: before.owner },
        after: { state: i.state, owner: i.owner },
      });
    });
  }

  /** A human approves a step that waits; the run continues from there. */
  async approveStep(
    incidentId: string,
    stepId: string,
    actor: string,
    requestId?: string,
  ): Promise<IncidentDetail> {
    const now = this.ctx.now().toISOString();
    const runId = await this.db.transaction().execute(async (trx) => {
      const runs = await store.runsOfIncident(trx, incidentId);
      if (runs.length === 0 && !(await store.findIncident(trx, incidentId))) {
        throw respondError('RESPOND_INCIDENT_NOT_FOUND', `incident ${incidentId} does not exist`, {
          field: 'params.id',
        });
      }
      // Alerts that join an incident add runs of the same playbook: the oldest one still waiting is approved.
      const candidates = runs.flatMap((run) =>
        run.steps.filter((s) => s.stepId === stepId).map((step) => ({ run, step })),
      );
      const found = candidates.find((c) => c.step.status === 'awaiting_approval') ?? candidates[0];
      if (found) {
        const { run, step } = found;
        if (step.status !== 'awaiting_approval') {
          throw respondError('RESPOND_STEP_NOT_AWAITING_APPROVAL', `step ${stepId} is ${step.status}`, {
            field: 'params.step',
          });
        }
        await store.updateStep(trx, run.id, step.idx, { status: 'pending', approved_by: actor });
        await store.setRunState(trx, run.id, 'running', now);
        await store.appendTimeline(trx, incidentId, {
          at: now,
          kind: 'step.approved',
          message: `${stepId} approved by ${actor}`,
          data: { runId: run.id },
        });
        await this.ctx.audit.record(trx as unknown as Transaction<Database>, {
          actor,
          action: 'respond.step.approve',
          targetType: 'incident',
          targetId: incidentId,
          requestId,
          after: { runId: run.id, stepId },
        });
        return run.id;
      }
      throw respondError('RESPOND_STEP_NOT_FOUND', `incident ${incidentId} has no step ${stepId}`, {
        field: 'params.step',
      });
    });
    await this.executor.execute(runId);
    return this.incident(incidentId);
  }
}

/**
 * An instant as UTC ISO, so that text comparison is time order and a stored time reads the same everywhere
 * (`2026-06-01T01:00:00-12:00` is after `2026-06-01T12:59:00Z`); undefined when it is not a time.
 */
export function utcInstant(value: string | undefined): string | undefined {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function alertFromEvent(event: BulkheadEvent): AlertInput {
  const d = event.data ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const severity = str(d.severity);
  return {
    id: event.id,
    ruleId: str(d.rule_id) ?? event.action ?? 'unknown',
    severity:
      severity && (SEVERITIES as readonly string[]).includes(severity) ? (severity as Severity) : 'high',
    title: str(d.title) ?? str(d.rule_id) ?? 'alert',
    identityId: event.identityId ?? null,
    credential: event.credentialId ?? str(d.credential) ?? null,
    firstSeen: str(d.first_seen),
    leaked: d.leaked === true,
    taskId: str(d.task_id) ?? str(d.taskId),
  };
}

export type { Tier };

/** Do two runs' facts (stored JSON) act on the same credential and task? */
function sameTarget(a: string, b: string): boolean {
  const x = JSON.parse(a) as RunFacts;
  const y = JSON.parse(b) as RunFacts;
  return (x.credentialId ?? null) === (y.credentialId ?? null) && (x.taskId ?? null) === (y.taskId ?? null);
}
