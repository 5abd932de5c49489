/**
 * Planning a playbook run is a pure function: from the alert facts, the identity's tier and what depends on
 * the target, decide for every step whether it runs now, waits for a human, only notifies, or is skipped —
 * with the reason and the list of workloads it would break. The executor applies the plan afterwards.
 */
import type { Dependent } from './dependency-map.js';
import { stepEscalation, type Playbook, type PlaybookStep, type StepAction } from './playbook.js';
import type { Tier } from './tiers.js';

export type Disposition = 'run' | 'approval' | 'notify_only' | 'skip';

export interface RunFacts {
  alertId: string;
  /** The alert's own title (a later alert of an incident pages with its own, not the first one's). */
  alertTitle?: string | undefined;
  ruleId: string;
  severity: string;
  identityId: string | null;
  credentialId: string | null;
  tier: Tier;
  /** A leaked secret: no overlap, revoke at once, and list what breaks. */
  leaked: boolean;
  taskId?: string | undefined;
}

export interface Dependencies {
  /** Other identities using the alert's credential. */
  credentialConsumers: Dependent[];
  /** Other identities using any credential of the alert's identity. */
  identityDependents: Dependent[];
}

export interface PlannedStep {
  idx: number;
  stepId: string;
  action: StepAction;
  params: Record<string, unknown>;
  disposition: Disposition;
  reason: string;
  breaks: Dependent[];
  /** What the step would change, when known before it runs (e.g. `narrow_permissions`' scope diff). */
  preview?: Record<string, unknown> | undefined;
}

/** Steps that change access (everything else records, pages or verifies). */
const CONTAINMENT: ReadonlySet<StepAction> = new Set<StepAction>([
  'revoke_tokens',
  'revoke_credential',
  'quarantine_identity',
  'rotate_credential',
  'disable_task',
  'isolate_integration',
  'narrow_permissions',
  'rollback_policy',
]);

export function isContainment(action: StepAction): boolean {
  return CONTAINMENT.has(action);
}

function target(step: PlaybookStep, facts: RunFacts): { ok: true } | { ok: false; why: string } {
  const needsCredential = step.action === 'revoke_credential' || step.action === 'rotate_credential';
  const needsIdentity =
    step.action === 'quarantine_identity' ||
    step.action === 'revoke_tokens' ||
    step.action === 'isolate_integration' ||
    step.action === 'narrow_permissions';
  if (needsCredential && !facts.credentialId && typeof step.with.credential !== 'string') {
    return { ok: false, why: 'the alert names no managed credential' };
  }
  if (needsIdentity && !facts.identityId) return { ok: false, why: 'the alert names no managed identity' };
  if (step.action === 'disable_task' && !facts.taskId && typeof step.with.task !== 'string') {
    return { ok: false, why: 'the alert names no task' };
  }
  return { ok: true };
}

/**
 * Plans one run.
 * @example planRun(playbook, facts, { credentialConsumers: [], identityDependents: [] })
 */
export function planRun(playbook: Playbook, facts: RunFacts, deps: Dependencies): PlannedStep[] {
  const out: PlannedStep[] = [];
  playbook.steps.forEach((step, idx) => {
    const base = { idx, stepId: step.id, action: step.action, params: step.with };
    if (step.tiers && !step.tiers.includes(facts.tier)) {
      out.push({ ...base, disposition: 'skip', reason: `not for ${facts.tier}`, breaks: [] });
      return;
    }
    const t = target(step, facts);
    if (!t.ok) {
      out.push({ ...base, disposition: 'skip', reason: t.why, breaks: [] });
      return;
    }
    if (step.action === 'require_approval') {
      out.push({
        ...base,
        disposition: 'approval',
        reason: 'the playbook asks a human to approve before continuing',
        breaks: [],
      });
      return;
    }
    if (!isContainment(step.action)) {
      out.push({
        ...base,
        disposition: 'run',
        reason: 'records, pages or verifies; changes no access',
        breaks: [],
      });
      return;
    }
    const escalation = stepEscalation(playbook, step, facts.tier);
    const breaks = breaksOf(step.action, deps);
    if (escalation === 'notify_only') {
      out.push({
        ...base,
        disposition: 'notify_only',
        reason: `${facts.tier} escalation is notify-only`,
        breaks,
      });
      return;
    }
    if (escalation === 'approval') {
      out.push({
        ...base,
        disposition: 'approval',
        reason: `${facts.tier}: containment waits for approval${breaks.length > 0 ? `; would break ${names(breaks)}` : ''}`,
        breaks,
      });
      return;
    }
    // Auto on this tier. What would cascade into an outage of *other* workloads is staged, except for a leak:
    // a leaked secret is already in an attacker's hands, so it goes now and the report lists what breaks.
    if (breaks.length > 0 && !facts.leaked) {
      const names = [...new Set(breaks.map((b) => b.identityId))].join(', ');
      out.push({
        ...base,
        disposition: 'approval',
        reason: `staged: would break ${names}; approve, or rotate in stages`,
        breaks,
      });
      return;
    }
    out.push({
      ...base,
      disposition: 'run',
      reason:
        breaks.length > 0
          ? `leaked: runs at once and will break ${[...new Set(breaks.map((b) => b.identityId))].join(', ')}`
          : `${facts.tier}: contain automatically`,
      breaks,
    });
  });
  return out;
}

/** The detect rule (and break-glass API alert) for an unsealed break-glass account. */
export const BREAK_GLASS_RULE = 'break-glass-use';

/**
 * Does an alert joining an incident need a run of its own when runs of the same playbook already exist? Each
 * run acts only on what its alert named, so yes for a credential or task none of them acts on, and for every
 * break-glass use (each unseal pages the owners).
 */
export function needsOwnRun(facts: RunFacts, runs: readonly RunFacts[]): boolean {
  if (runs.length === 0 || facts.ruleId === BREAK_GLASS_RULE) return true;
  if (facts.credentialId && !runs.some((r) => r.credentialId === facts.credentialId)) return true;
  return Boolean(facts.taskId && !runs.some((r) => r.taskId === facts.taskId));
}

/** Does the plan change access now or after an approval (not only notify or skip)? */
export function plansContainment(steps: readonly PlannedStep[]): boolean {
  return steps.some(
    (s) => isContainment(s.action) && (s.disposition === 'run' || s.disposition === 'approval'),
  );
}

function names(breaks: Dependent[]): string {
  return [...new Set(breaks.map((b) => b.identityId))].join(', ');
}

function breaksOf(action: StepAction, deps: Dependencies): Dependent[] {
  switch (action) {
    case 'revoke_credential':
      return deps.credentialConsumers;
    case 'isolate_integration':
      return deps.identityDependents;
    default:
      // Quarantine and token revocation act on the compromised identity itself; rotation is staged by design.
      return [];
  }
}
