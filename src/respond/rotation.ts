/**
 * Dependency-aware rotation in stages: issue the new credential → tell its consumers → keep the old one valid
 * for a bounded overlap → revoke the old one → report which consumers still used the old one after the
 * overlap began (they did not switch: did they fail safe, or were they broken?). A leaked credential skips the
 * overlap: the old one is revoked at once and the report lists what will break.
 */
import { randomBytes } from 'node:crypto';
import type { InventoryService } from '../inventory/service.js';
import { respondError } from './errors.js';
import type { Notifier, WriteMeta } from './handles.js';
import type { RespondDb, RespondRotationsTable } from './tables.js';

export interface ConsumerState {
  switchedAt: string | null;
  lastOldUseAt: string | null;
}

export interface RotationReport {
  switched: string[];
  /** Consumers that used the old credential after the rotation began, or never confirmed the new one. */
  stillOnOld: { consumer: string; lastOldUseAt: string | null }[];
  /** True when no consumer depended on the old credential when it was revoked. */
  dependentsSafe: boolean;
}

export interface Rotation {
  id: string;
  oldCredentialId: string;
  newCredentialId: string;
  identityId: string;
  state: 'overlap' | 'completed' | 'immediate';
  leaked: boolean;
  consumers: string[];
  consumerState: Record<string, ConsumerState>;
  overlapEndsAt: string;
  completedAt: string | null;
  report: RotationReport | null;
  createdAt: string;
  updatedAt: string;
}

export interface RotationPreview {
  credentialId: string;
  identityId: string;
  consumers: string[];
  /** What breaks if the credential is revoked now (every consumer still holding it). */
  willBreak: string[];
}

export interface StartRotation {
  leaked?: boolean | undefined;
  overlapMs?: number | undefined;
  incidentId?: string | undefined;
}

export const DEFAULT_OVERLAP_MS = 60 * 60_000;

function fromRow(r: RespondRotationsTable): Rotation {
  return {
    id: r.id,
    oldCredentialId: r.old_credential_id,
    newCredentialId: r.new_credential_id,
    identityId: r.identity_id,
    state: r.state as Rotation['state'],
    leaked: r.leaked === 1,
    consumers: JSON.parse(r.consumers) as string[],
    consumerState: JSON.parse(r.consumer_state) as Record<string, ConsumerState>,
    overlapEndsAt: r.overlap_ends_at,
    completedAt: r.completed_at,
    report: r.report === null ? null : (JSON.parse(r.report) as RotationReport),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Pure: who did not switch. */
export function rotationReport(consumers: string[], state: Record<string, ConsumerState>): RotationReport {
  const switched: string[] = [];
  const stillOnOld: RotationReport['stillOnOld'] = [];
  for (const c of consumers) {
    const s = state[c] ?? { switchedAt: null, lastOldUseAt: null };
    const usedOldAfterSwitch =
      s.switchedAt !== null && s.lastOldUseAt !== null && s.lastOldUseAt > s.switchedAt;
    if (s.switchedAt === null || usedOldAfterSwitch)
      stillOnOld.push({ consumer: c, lastOldUseAt: s.lastOldUseAt });
    else switched.push(c);
  }
  return { switched, stillOnOld, dependentsSafe: stillOnOld.length === 0 };
}

type Inventory = Pick<InventoryService, 'findCredential' | 'createCredential' | 'revokeCredential'>;

export class RotationService {
  /** Credentials of rotations in their overlap: only their use is worth a database write. */
  private watched = new Set<string>();
  /** Consumer-state updates are read-modify-write on one row: one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: RespondDb,
    private readonly inventory: Inventory,
    private readonly now: () => Date,
    private readonly notifier?: Notifier | undefined,
  ) {}

  /** Loads the credentials to watch (at start, and periodically for rotations started by another replica). */
  async loadWatched(): Promise<void> {
    const rows = await this.db
      .selectFrom('respond_rotations')
      .select(['old_credential_id', 'new_credential_id'])
      .where('state', '=', 'overlap')
      .execute();
    this.watched = new Set(rows.flatMap((r) => [r.old_credential_id, r.new_credential_id]));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => undefined).then(fn);
    this.chain = next;
    return next;
  }

  async preview(credentialId: string): Promise<RotationPreview> {
    const c = await this.inventory.findCredential(credentialId);
    if (!c) {
      throw respondError('RESPOND_ROTATION_STATE', `credential ${credentialId} does not exist`, {
        field: 'body.credential_id',
      });
    }
    return { credentialId, identityId: c.identityId, consumers: c.consumers, willBreak: c.consumers };
  }

  /**
   * Starts (or returns the running) rotation of a credential. Idempotent per credential; for a leaked one the
   * old credential is revoked (again, if an earlier attempt failed) before the rotation is returned.
   */
  async start(credentialId: string, opts: StartRotation, meta: WriteMeta): Promise<Rotation> {
    const running = await this.db
      .selectFrom('respond_rotations')
      .selectAll()
      .where('old_credential_id', '=', credentialId)
      .executeTakeFirst();
    if (running) {
      const r = fromRow(running);
      // The row is written before the leaked credential is revoked: a revoke that failed then is done now, so a
      // retry never reports "revoked at once" while the old credential still works.
      if (r.state === 'immediate') {
        const old = await this.inventory.findCredential(r.oldCredentialId);
        if (old && old.status !== 'revoked') await this.inventory.revokeCredential(old.id, meta);
      }
      return r;
    }
    const old = await this.inventory.findCredential(credentialId);
    if (!old) {
      throw respondError('RESPOND_ROTATION_STATE', `credential ${credentialId} does not exist`, {
        field: 'body.credential_id',
      });
    }
    if (old.status !== 'active') {
      throw respondError(
        'RESPOND_ROTATION_STATE',
        `credential ${credentialId} is ${old.status}; only active credentials rotate`,
        {
          field: 'body.credential_id',
        },
      );
    }
    const now = this.now();
    const id = `rot-${randomBytes(6).toString('hex')}`;
    const leaked = opts.leaked === true;
    // The secret itself is issued by the system that holds it; the inventory records the new credential and
    // its pending fingerprint until the holder reports it.
    const fresh = await this.inventory.createCredential(
      {
        identityId: old.identityId,
        type: old.type,
        fingerprint: `pending:${id}`,
        status: 'active',
        scopes: old.scopes,
        storedIn: old.storedIn,
        consumers: old.consumers,
        source: 'respond',
        labels: { ...old.labels, 'bulkhead.rotated-from': old.id, 'bulkhead.rotation': id },
        expiresAt: old.expiresAt,
      },
      meta,
    );
    const overlapEndsAt = new Date(now.getTime() + (leaked ? 0 : (opts.overlapMs ?? DEFAULT_OVERLAP_MS)));
    const consumerState: Record<string, ConsumerState> = Object.fromEntries(
      old.consumers.map((c) => [c, { switchedAt: null, lastOldUseAt: null }]),
    );
    const row: RespondRotationsTable = {
      id,
      old_credential_id: old.id,
      new_credential_id: fresh.id,
      identity_id: old.identityId,
      state: leaked ? 'immediate' : 'overlap',
      leaked: leaked ? 1 : 0,
      consumers: JSON.stringify(old.consumers),
      consumer_state: JSON.stringify(consumerState),
      overlap_ends_at: overlapEndsAt.toISOString(),
      completed_at: leaked ? now.toISOString() : null,
      report: leaked ? JSON.stringify(rotationReport(old.consumers, consumerState)) : null,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
    await this.db.insertInto('respond_rotations').values(row).execute();
    if (!leaked) {
      this.watched.add(old.id);
      this.watched.add(fresh.id);
    }
    if (leaked) await this.inventory.revokeCredential(old.id, meta);
    await this.notifier
      ?.send(
        {
          type: 'bulkhead.incident',
          channel: 'rotation',
          incidentId: opts.incidentId ?? id,
          title: `credential ${old.id} rotated to ${fresh.id}`,
          tier: null,
          severity: leaked ? 'critical' : 'medium',
          identityId: old.identityId,
          credentialId: old.id,
          owners: [],
          summary: leaked
            ? `leaked: ${old.id} revoked now; consumers ${old.consumers.join(', ') || 'none'} must switch to ${fresh.id}`
            : `switch to ${fresh.id} before ${overlapEndsAt.toISOString()}`,
          data: { rotationId: id, consumers: old.consumers, newCredentialId: fresh.id },
        },
        `rotation:${id}`,
      )
      .catch(() => undefined);
    return fromRow(row);
  }

  async get(id: string): Promise<Rotation> {
    const r = await this.db
      .selectFrom('respond_rotations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r)
      throw respondError('RESPOND_ROTATION_NOT_FOUND', `rotation ${id} does not exist`, {
        field: 'params.id',
      });
    return fromRow(r);
  }

  async list(limit = 100): Promise<Rotation[]> {
    const rows = await this.db
      .selectFrom('respond_rotations')
      .selectAll()
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /** A consumer confirms it now uses the new credential. */
  acknowledge(id: string, consumer: string): Promise<Rotation> {
    return this.serial(() => this.acknowledgeNow(id, consumer));
  }

  private async acknowledgeNow(id: string, consumer: string): Promise<Rotation> {
    const r = await this.get(id);
    if (!r.consumers.includes(consumer)) {
      throw respondError('RESPOND_ROTATION_STATE', `${consumer} is not a consumer of ${r.oldCredentialId}`, {
        field: 'body.consumer',
      });
    }
    const s = r.consumerState[consumer] ?? { switchedAt: null, lastOldUseAt: null };
    if (s.switchedAt === null) s.switchedAt = this.now().toISOString();
    r.consumerState[consumer] = s;
    await this.saveState(r);
    return r;
  }

  /** Observed use of a credential (bus events carry `credentialId` and the acting identity). */
  recordUse(credentialId: string, consumer: string, at: string): Promise<void> {
    if (!this.watched.has(credentialId)) return Promise.resolve();
    return this.serial(() => this.recordUseNow(credentialId, consumer, at));
  }

  private async recordUseNow(credentialId: string, consumer: string, at: string): Promise<void> {
    const rows = await this.db
      .selectFrom('respond_rotations')
      .selectAll()
      .where((eb) =>
        eb.or([eb('old_credential_id', '=', credentialId), eb('new_credential_id', '=', credentialId)]),
      )
      .execute();
    for (const row of rows) {
      const r = fromRow(row);
      if (!r.consumers.includes(consumer)) continue;
      const s = r.consumerState[consumer] ?? { switchedAt: null, lastOldUseAt: null };
      if (credentialId === r.newCredentialId) {
        if (s.switchedAt === null || at < s.switchedAt) s.switchedAt = at;
      } else if (s.lastOldUseAt === null || at > s.lastOldUseAt) {
        s.lastOldUseAt = at;
      }
      r.consumerState[consumer] = s;
      await this.saveState(r);
    }
  }

  /** Ends the overlap (when due, or at once with `force`): revokes the old credential and writes the report. */
  async complete(id: string, meta: WriteMeta, force = false): Promise<Rotation> {
    const r = await this.get(id);
    if (r.state !== 'overlap') return r;
    const now = this.now();
    if (!force && now.toISOString() < r.overlapEndsAt) {
      throw respondError('RESPOND_ROTATION_STATE', `the overlap of ${id} ends at ${r.overlapEndsAt}`, {
        field: 'params.id',
      });
    }
    await this.inventory.revokeCredential(r.oldCredentialId, meta);
    // Uses recorded up to now count: wait for queued consumer-state updates.
    await this.serial(() => Promise.resolve());
    const current = await this.get(id);
    const report = rotationReport(current.consumers, current.consumerState);
    this.watched.delete(r.oldCredentialId);
    this.watched.delete(r.newCredentialId);
    await this.db
      .updateTable('respond_rotations')
      .set({
        state: 'completed',
        completed_at: now.toISOString(),
        report: JSON.stringify(report),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .where('state', '=', 'overlap')
      .execute();
    return this.get(id);
  }

  /** Completes every rotation whose overlap is over (called periodically and at start). */
  async completeDue(meta: WriteMeta): Promise<number> {
    await this.loadWatched();
    const due = await this.db
      .selectFrom('respond_rotations')
      .select('id')
      .where('state', '=', 'overlap')
      .where('overlap_ends_at', '<=', this.now().toISOString())
      .execute();
    for (const { id } of due) await this.complete(id, meta);
    return due.length;
  }

  private async saveState(r: Rotation): Promise<void> {
    await this.db
      .updateTable('respond_rotations')
      .set({ consumer_state: JSON.stringify(r.consumerState), updated_at: this.now().toISOString() })
      .where('id', '=', r.id)
      .execute();
  }
}
