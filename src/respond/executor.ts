/**
 * Runs the steps of a playbook run from their journal (`respond_steps`). Every status change is written
 * before and after the effect, in one transaction with its audit entry and timeline line, so a crash leaves
 * a step `running` and a restart runs it again — safe because every action is idempotent.
 */
import type { Transaction } from 'kysely';
import type { AuditLog } from '../audit/audit-log.js';
import type { Database } from '../store/database.js';
import { containmentMissed, runAction, type ActionDeps, type StepOutcome } from './actions.js';
import { isContainment } from './plan.js';
import type { StepAction } from './playbook.js';
import * as store from './store.js';
import type { RespondDb, RespondTrx } from './tables.js';

export interface ExecutorOptions {
  /** This replica's name in run leases. */
  owner: string;
  /** How long a lease lasts without renewal (renewed before every step). */
  leaseMs: number;
  /** First retry delay; doubles per attempt (capped at 30 s). */
  retryBaseMs: number;
  /** Default attempts after the first failure when the step does not say. */
  retries: number;
}

export interface ExecutorDeps {
  db: RespondDb;
  audit: AuditLog;
  now: () => Date;
  actions: ActionDeps;
  /** Called when verify_contained of a run succeeds. */
  onContained(incidentId: string, runId: string, at: Date, trx: RespondTrx): Promise<void>;
}

const TERMINAL = new Set(['done', 'skipped', 'failed', 'dry_run']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Is a step pending that a pass would run now (not behind an approval gate, not a verify still waiting)? */
export function hasRunnableStep(steps: store.StepRecord[]): boolean {
  for (const step of steps) {
    if (step.status === 'awaiting_approval' && step.action === 'require_approval') return false;
    if (step.status !== 'pending') continue;
    const waiting = steps.some((s) => s.idx < step.idx && s.status === 'awaiting_approval');
    return !(step.action === 'verify_contained' && waiting);
  }
  return false;
}

export class RunExecutor {
  private readonly active = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: ExecutorDeps,
    private readonly options: ExecutorOptions,
  ) {}

  /** Runs (or continues) a run; concurrent calls for one run share the same pass and then run once more. */
  execute(runId: string): Promise<void> {
    const previous = this.active.get(runId) ?? Promise.resolve();
    const next = previous.then(() => this.pass(runId));
    const tracked = next.finally(() => {
      if (this.active.get(runId) === tracked) this.active.delete(runId);
    });
    this.active.set(runId, tracked);
    return tracked;
  }

  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()]);
  }

  private async pass(runId: string): Promise<void> {
    const { db } = this.deps;
    const run = await store.getRun(db, runId);
    if (!run || run.dryRun || run.state === 'completed') return;
    const incident = await store.findIncident(db, run.incidentId);
    if (!incident) return;
    if (!(await this.claim(runId))) return; // another replica is running it
    try {
      await this.steps(run, incident);
    } finally {
      await store.releaseRun(db, runId, this.options.owner);
    }
  }

  private claim(runId: string): Promise<boolean> {
    const now = this.deps.now();
    return store.claimRun(
      this.deps.db,
      runId,
      this.options.owner,
      now.toISOString(),
      new Date(now.getTime() + this.options.leaseMs).toISOString(),
    );
  }

  private async steps(run: store.RunRecord, incident: store.Incident): Promise<void> {
    const { db, now } = this.deps;
    const runId = run.id;
    let blocked = false;
    for (const step of run.steps) {
      if (TERMINAL.has(step.status)) continue;
      const waiting = run.steps.some((s) => s.idx < step.idx && s.status === 'awaiting_approval');
      if (step.status === 'awaiting_approval') {
        if (step.action === 'require_approval') {
          blocked = true;
          break;
        }
        continue;
      }
      if (step.action === 'verify_contained' && waiting) {
        blocked = true;
        break;
      }
      const earlier = run.steps.filter((s) => s.idx < step.idx && isContainment(s.action as StepAction));
      const done = earlier.filter((s) => s.status === 'done');
      const missed = earlier.filter(containmentMissed);
      const actor = step.approvedBy ?? `playbook:${run.playbookId}@${run.playbookVersion}`;
      if (!(await this.claim(runId))) return; // lease lost (e.g. a long stall): the new holder continues
      let attempts = step.attempts;
      const maxAttempts = (step.retries ?? this.options.retries) + 1 + step.attempts;
      for (;;) {
        attempts++;
        await store.updateStep(db, runId, step.idx, {
          status: 'running',
          attempts,
          started_at: step.startedAt ?? now().toISOString(),
        });
        let outcome: StepOutcome | undefined;
        let error: string | undefined;
        try {
          outcome = await runAction(this.deps.actions, {
            facts: run.facts,
            step,
            incident,
            done,
            missed,
            meta: { actor },
            saveIntent: async (intent) => {
              step.result = { intent };
              await store.updateStep(db, runId, step.idx, { result: JSON.stringify({ intent }) });
            },
          });
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        if (outcome) {
          const status = outcome.outcome === 'done' ? 'done' : 'skipped';
          step.status = status;
          step.result = outcome;
          await this.finishStep(
            runId,
            run.incidentId,
            step.idx,
            step.stepId,
            step.action,
            status,
            outcome,
            actor,
            attempts,
            outcome.outcome === 'done' && step.action === 'verify_contained',
          );
          break;
        }
        if (attempts >= maxAttempts) {
          step.status = 'failed';
          const failure = { outcome: 'failed', detail: error ?? 'failed' };
          step.result = failure;
          await this.finishStep(
            runId,
            run.incidentId,
            step.idx,
            step.stepId,
            step.action,
            'failed',
            failure,
            actor,
            attempts,
            false,
          );
          break;
        }
        await sleep(Math.min(30_000, this.options.retryBaseMs * 2 ** (attempts - 1)));
      }
    }
    const fresh = await store.getRun(db, runId);
    if (!fresh) return;
    // Read again: a step approved while this pass ran is pending now, and the run stays running until a pass
    // (the approval's own, or a resume) has run it.
    const state = hasRunnableStep(fresh.steps)
      ? 'running'
      : blocked || fresh.steps.some((s) => s.status === 'awaiting_approval')
        ? 'awaiting_approval'
        : fresh.steps.some((s) => s.status === 'failed')
          ? 'failed'
          : 'completed';
    await store.setRunState(db, runId, state, now().toISOString());
  }

  private async finishStep(
    runId: string,
    incidentId: string,
    idx: number,
    stepId: string,
    action: string,
    status: 'done' | 'skipped' | 'failed',
    result: { outcome: string; detail: string },
    actor: string,
    attempts: number,
    contained: boolean,
  ): Promise<void> {
    const at = this.deps.now();
    await this.deps.db.transaction().execute(async (trx) => {
      await store.updateStep(trx, runId, idx, {
        status,
        result: JSON.stringify(result),
        finished_at: at.toISOString(),
        attempts,
      });
      await store.appendTimeline(trx, incidentId, {
        at: at.toISOString(),
        kind: `step.${status}`,
        message: `${stepId} (${action}): ${result.detail}`,
        data: { runId, stepId, action, attempts },
      });
      await this.deps.audit.record(trx as unknown as Transaction<Database>, {
        actor,
        action: `respond.step.${status}`,
        targetType: 'incident',
        targetId: incidentId,
        after: { runId, stepId, action, detail: result.detail, attempts },
      });
      if (contained) await this.deps.onContained(incidentId, runId, at, trx);
    });
  }
}
