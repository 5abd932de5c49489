/**
 * The step implementations. Each one is idempotent (running it twice leaves the same state and writes no
 * second audit entry for a change already made), because a crash between "effect applied" and "step marked
 * done" makes the executor run it again after a restart.
 */
import type { InventoryService } from '../inventory/service.js';
import type { Identity } from '../inventory/types.js';
import type {
  DecisionPoint,
  Notifier,
  SignalSender,
  TokenAuthority,
  UsageSource,
  WriteMeta,
} from './handles.js';
import { describeNarrowing, planNarrowing, sameScopes, type NarrowingPlan } from './narrow.js';
import type { RunFacts } from './plan.js';
import type { StepAction } from './playbook.js';
import type { RotationService } from './rotation.js';
import type { Incident, StepRecord } from './store.js';

export type StepOutcome =
  | { outcome: 'done'; detail: string; data?: Record<string, unknown> }
  | {
      outcome: 'skipped';
      detail: string;
      /** The target the step had to act on was not there: the containment it stood for did not happen. */
      noTarget?: boolean;
    };

export interface ActionDeps {
  inventory: Pick<
    InventoryService,
    | 'findIdentity'
    | 'findCredential'
    | 'revokeCredential'
    | 'setIdentityStatus'
    | 'listCredentials'
    | 'updateCredential'
  >;
  pdp?: DecisionPoint | undefined;
  broker?: TokenAuthority | undefined;
  notifier?: Notifier | undefined;
  /** Granted vs used (posture), for `narrow_permissions`. */
  usage?: UsageSource | undefined;
  /** Shared Signals (CAEP / RISC) push through detection's sender, for `notify`. */
  signals?: SignalSender | undefined;
  rotations: Pick<RotationService, 'start'>;
}

export interface StepInput {
  facts: RunFacts;
  step: StepRecord;
  incident: Incident;
  /** Containment steps of the same run that completed before this one. */
  done: StepRecord[];
  /** Containment steps of the same run that failed, or found no target, before this one. */
  missed: StepRecord[];
  meta: WriteMeta;
  /** Saves what a step decided before acting, so a retry acts on the same choice. */
  saveIntent(intent: Record<string, unknown>): Promise<void>;
}

// Built-in invariants that refuse the principal whatever the policy says (no active policy refuses everything).
const REFUSED_REASONS = new Set([
  'bulkhead.principal_quarantined',
  'bulkhead.principal_disabled',
  'bulkhead.no_policy',
]);

/** Is the identity refused by the PDP right now (built-in invariant, not a policy that may change)? */
export async function pdpRefuses(pdp: DecisionPoint, identityId: string): Promise<boolean> {
  const r = await pdp.decide(
    {
      principal: { id: identityId },
      action: 'bulkhead.verify_contained',
      resource: { id: 'bulkhead.verify' },
    },
    undefined,
    { sideEffects: false },
  );
  return !r.decision && r.reasons.some((x) => REFUSED_REASONS.has(x.id));
}

function credentialOf(input: StepInput): string | undefined {
  const p = input.step.params.credential;
  return typeof p === 'string' ? p : (input.facts.credentialId ?? undefined);
}

export async function runAction(deps: ActionDeps, input: StepInput): Promise<StepOutcome> {
  const { facts, meta } = input;
  const reason = `incident ${input.incident.id}: ${facts.ruleId}`;
  const action = input.step.action as StepAction;
  switch (action) {
    case 'open_incident':
      return {
        outcome: 'done',
        detail: `incident ${input.incident.id} opened, owner ${input.incident.owner ?? 'none'}`,
      };

    case 'revoke_credential': {
      const id = credentialOf(input)!;
      const c = await deps.inventory.findCredential(id);
      if (!c)
        return { outcome: 'skipped', detail: `credential ${id} is not in the inventory`, noTarget: true };
      if (c.status === 'revoked') return { outcome: 'done', detail: `credential ${id} already revoked` };
      await deps.inventory.revokeCredential(id, meta);
      return { outcome: 'done', detail: `credential ${id} revoked`, data: { credentialId: id } };
    }

    case 'quarantine_identity': {
      const identity = await requireIdentity(deps, facts);
      if (!identity)
        return {
          outcome: 'skipped',
          detail: `identity ${facts.identityId} is not in the inventory`,
          noTarget: true,
        };
      if (identity.status === 'quarantined' || identity.status === 'disabled') {
        return { outcome: 'done', detail: `identity ${identity.id} already ${identity.status}` };
      }
      await deps.inventory.setIdentityStatus(identity.id, 'quarantined', meta, reason);
      return {
        outcome: 'done',
        detail: `identity ${identity.id} quarantined (reversible: set status active)`,
      };
    }

    case 'revoke_tokens': {
      if (!deps.broker) return { outcome: 'skipped', detail: 'no token broker attached' };
      const r = await deps.broker.revokeTokensOf(facts.identityId!, meta, reason);
      return {
        outcome: 'done',
        detail: `${r.revoked} task token(s) of ${facts.identityId} revoked`,
        data: r,
      };
    }

    case 'disable_task': {
      if (!deps.broker) return { outcome: 'skipped', detail: 'no token broker attached' };
      const task = typeof input.step.params.task === 'string' ? input.step.params.task : facts.taskId!;
      await deps.broker.disableTask(task, meta, reason);
      return { outcome: 'done', detail: `task ${task} disabled` };
    }

    case 'rotate_credential': {
      const id = credentialOf(input)!;
      const overlap = input.step.params.overlap_minutes;
      const r = await deps.rotations.start(
        id,
        {
          leaked: facts.leaked,
          overlapMs: typeof overlap === 'number' && overlap >= 0 ? overlap * 60_000 : undefined,
          incidentId: input.incident.id,
        },
        meta,
      );
      return {
        outcome: 'done',
        detail: r.leaked
          ? `credential ${id} replaced by ${r.newCredentialId} and revoked at once (leaked)`
          : `rotation ${r.id}: ${r.newCredentialId} issued, ${id} stays valid until ${r.overlapEndsAt}`,
        data: { rotationId: r.id, newCredentialId: r.newCredentialId, willBreak: r.consumers },
      };
    }

    case 'isolate_integration': {
      const identity = await requireIdentity(deps, facts);
      if (!identity)
        return {
          outcome: 'skipped',
          detail: `identity ${facts.identityId} is not in the inventory`,
          noTarget: true,
        };
      if (identity.kind !== 'third_party_integration') {
        return {
          outcome: 'skipped',
          detail: `${identity.id} is a ${identity.kind}, not a third-party integration`,
        };
      }
      const page = await deps.inventory.listCredentials({
        identity_id: identity.id,
        status: 'active',
        limit: 500,
      });
      const cut = page.items.filter((c) => c.labels['bulkhead.health-check'] !== 'true');
      for (const c of cut) await deps.inventory.revokeCredential(c.id, meta);
      return {
        outcome: 'done',
        detail: `${identity.id} cut off: ${cut.length} credential(s) revoked, health-check credentials kept`,
        data: { revoked: cut.map((c) => c.id) },
      };
    }

    case 'narrow_permissions':
      return narrowPermissions(deps, input);

    case 'rollback_policy': {
      if (!deps.pdp) return { outcome: 'skipped', detail: 'no policy decision point attached' };
      let target =
        typeof input.step.result === 'object' && input.step.result !== null
          ? (input.step.result as { intent?: { version?: number } }).intent?.version
          : undefined;
      if (target === undefined) {
        const versions = await deps.pdp.listVersions();
        const active = versions.find((v) => v.active);
        const previous = versions
          .filter((v) => active && v.version < active.version)
          .sort((a, b) => b.version - a.version)[0];
        if (!active || !previous)
          return { outcome: 'skipped', detail: 'no previous policy version to roll back to' };
        target = previous.version;
        await input.saveIntent({ version: target });
      }
      await deps.pdp.activate(target, meta);
      return { outcome: 'done', detail: `policy version ${target} re-activated`, data: { version: target } };
    }

    case 'notify':
      return notify(deps, input);

    case 'require_approval':
      return { outcome: 'done', detail: 'approved' };

    case 'verify_contained':
      return verifyContained(deps, input);
  }
}

/**
 * Pages through the signed webhooks and pushes a Security Event Token to the Shared Signals receivers: RISC
 * `credential-compromise` when the alert names a credential, CAEP `session-revoked` for an identity. The SET's
 * `txn` and the webhook `Idempotency-Key` are the run and step, so a retry is recognisable as the same event.
 * Throws (retried) when nothing was delivered anywhere; skipped when no channel is configured at all.
 */
async function notify(deps: ActionDeps, input: StepInput): Promise<StepOutcome> {
  const { facts } = input;
  const key = `${input.step.runId}:${input.step.stepId}`;
  const identity = facts.identityId ? await deps.inventory.findIdentity(facts.identityId) : undefined;
  const channel = typeof input.step.params.channel === 'string' ? input.step.params.channel : 'page';
  // Failed containment is in the page too: the owners are the escalation when automation could not contain.
  const summary =
    [...input.done, ...input.missed]
      .sort((a, b) => a.idx - b.idx)
      .map((s) => `${s.action}: ${s.status}`)
      .join('; ') || 'no containment yet';
  const data: Record<string, unknown> = {};
  const parts: string[] = [];
  let delivered = 0;
  let attempted = 0;
  const errors: string[] = [];
  if (deps.notifier) {
    attempted++;
    try {
      const r = await deps.notifier.send(
        {
          type: 'bulkhead.incident',
          channel,
          incidentId: input.incident.id,
          title: facts.alertTitle
            ? `${facts.alertTitle}${facts.identityId ? ` (${facts.identityId})` : ''}`
            : input.incident.title,
          tier: facts.tier,
          severity: facts.severity,
          identityId: facts.identityId,
          credentialId: facts.credentialId,
          owners: identity?.owners ?? [],
          summary,
        },
        key,
      );
      data.webhooks = r;
      delivered += r.delivered;
      parts.push(`notified ${r.delivered} webhook receiver(s) on ${channel}`);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  const subject = facts.credentialId ?? facts.identityId;
  if (deps.signals && subject) {
    const signal = facts.credentialId ? 'credential-compromise' : 'session-revoked';
    const results = await deps.signals.pushSignal({
      signal,
      subject,
      txn: key,
      eventTime: new Date(Date.parse(input.incident.detectedAt)),
      reason: `${input.incident.title}: ${facts.ruleId} (${facts.tier}); ${summary}`,
    });
    if (results.length > 0) {
      attempted++;
      const ok = results.filter((r) => r.ok).length;
      delivered += ok;
      data.ssf = { signal, subject, delivered: ok, failed: results.length - ok, results };
      if (ok > 0) parts.push(`pushed ${signal} SET to ${ok} of ${results.length} SSF receiver(s)`);
      else
        errors.push(
          `SET push failed: ${results.map((r) => `${r.receiver} ${r.status ?? r.err ?? ''}`).join(', ')}`,
        );
    }
  }
  if (attempted === 0) {
    return { outcome: 'skipped', detail: 'no notification receiver configured (webhooks or SSF)' };
  }
  if (delivered === 0) throw new Error(errors.join('; ') || 'no receiver accepted the notification');
  if (errors.length > 0) parts.push(`failed: ${errors.join('; ')}`);
  return { outcome: 'done', detail: parts.join('; '), data };
}

/** Label on a narrowed credential: the incident that narrowed it (removed by a restore). */
export const NARROWED_LABEL = 'bulkhead.narrowed-by';

/**
 * Least privilege from recorded use. The plan is saved in the step journal before anything changes, so a
 * retry applies the same scopes, and the journal keeps every credential's previous scopes for a restore.
 */
async function narrowPermissions(deps: ActionDeps, input: StepInput): Promise<StepOutcome> {
  const identityId = input.facts.identityId!;
  const saved = (input.step.result as { intent?: { narrowing?: NarrowingPlan } } | null)?.intent?.narrowing;
  let plan = saved;
  if (!plan) {
    if (!deps.usage) {
      return {
        outcome: 'skipped',
        detail: 'no usage data: granted-vs-used (posture module) is not attached',
      };
    }
    const usage = await deps.usage.usageOf(identityId);
    if (!usage.observed) {
      return { outcome: 'skipped', detail: `no usage data recorded for ${identityId}: nothing narrowed` };
    }
    const page = await deps.inventory.listCredentials({
      identity_id: identityId,
      status: 'active',
      limit: 500,
    });
    plan = planNarrowing(page.items, usage);
    if (plan.changes.length === 0) {
      return {
        outcome: 'done',
        detail: `nothing to narrow: every scope of ${identityId} was used${plan.unusedCredentials.length || plan.policyGrantsUnused.length ? `; ${describeNarrowing(plan)}` : ''}`,
        data: { narrowing: plan },
      };
    }
    await input.saveIntent({ narrowing: plan });
  }
  for (const change of plan.changes) {
    const c = await deps.inventory.findCredential(change.credentialId);
    if (!c || c.status === 'revoked' || sameScopes(c.scopes, change.after)) continue;
    await deps.inventory.updateCredential(
      c.id,
      { scopes: change.after, labels: { ...c.labels, [NARROWED_LABEL]: input.incident.id } },
      input.meta,
      'credential.narrow',
    );
  }
  return {
    outcome: 'done',
    detail: `narrowed to recorded use: ${describeNarrowing(plan)} (reversible: restore from the step journal)`,
    data: { narrowing: plan },
  };
}

async function requireIdentity(deps: ActionDeps, facts: RunFacts): Promise<Identity | undefined> {
  return facts.identityId ? deps.inventory.findIdentity(facts.identityId) : undefined;
}

/** Did this containment step end without containing (failed, or skipped because its target was missing)? */
export function containmentMissed(s: StepRecord): boolean {
  const result = s.result as { noTarget?: boolean } | null;
  return s.status === 'failed' || (s.status === 'skipped' && result?.noTarget === true);
}

function detailOf(s: StepRecord): string {
  return (s.result as { detail?: string } | null)?.detail ?? 'no detail';
}

/**
 * Re-checks every containment this run applied: the credential is revoked in the store (durable), the PDP
 * refuses the quarantined identity, the broker holds no live token. Throws while something is still accepted,
 * or when a containment step failed or found no target, so the executor retries with backoff and finally fails
 * the step loudly.
 */
async function verifyContained(deps: ActionDeps, input: StepInput): Promise<StepOutcome> {
  // A containment that did not happen is never reported as contained, whatever the other checks say.
  if (input.missed.length > 0) {
    throw new Error(
      `containment did not happen: ${input.missed
        .map((s) => `${s.stepId} (${s.action}) ${s.status}: ${detailOf(s)}`)
        .join(', ')}`,
    );
  }
  const checks: { check: string; refused: boolean }[] = [];
  for (const s of input.done) {
    const data = (s.result as { data?: Record<string, unknown> } | null)?.data ?? {};
    switch (s.action) {
      case 'revoke_credential': {
        const id = typeof data.credentialId === 'string' ? data.credentialId : input.facts.credentialId;
        if (!id) break;
        const c = await deps.inventory.findCredential(id);
        checks.push({ check: `credential ${id} revoked`, refused: c?.status === 'revoked' });
        break;
      }
      case 'rotate_credential': {
        const id = input.facts.credentialId;
        if (!id || !input.facts.leaked) break;
        const c = await deps.inventory.findCredential(id);
        checks.push({ check: `credential ${id} revoked`, refused: c?.status === 'revoked' });
        break;
      }
      case 'quarantine_identity': {
        const id = input.facts.identityId!;
        if (deps.pdp) checks.push({ check: `PDP refuses ${id}`, refused: await pdpRefuses(deps.pdp, id) });
        else {
          const identity = await deps.inventory.findIdentity(id);
          checks.push({
            check: `${id} quarantined in the inventory`,
            refused: identity?.status !== 'active',
          });
        }
        break;
      }
      case 'revoke_tokens':
        if (deps.broker && (s.result as { outcome?: string } | null)?.outcome !== 'skipped') {
          const live = await deps.broker.identityHasActiveTokens(input.facts.identityId!);
          checks.push({ check: `no live task token of ${input.facts.identityId}`, refused: !live });
        }
        break;
      default:
        break;
    }
  }
  if (checks.length === 0)
    return { outcome: 'skipped', detail: 'no containment step ran in this run: nothing to verify' };
  const open = checks.filter((c) => !c.refused);
  if (open.length > 0) throw new Error(`still accepted: ${open.map((c) => c.check).join(', ')}`);
  return {
    outcome: 'done',
    detail: `verified: ${checks.map((c) => c.check).join(', ')}`,
    data: { checks, verified: true },
  };
}
