/**
 * Break-glass use: the account is unsealed only with a written justification, for a short TTL, with its
 * owners paged and an incident opened; when the TTL ends it is sealed (disabled) again, even after a restart.
 */
import { randomBytes } from 'node:crypto';
import type { InventoryService } from '../inventory/service.js';
import { respondError } from './errors.js';
import type { WriteMeta } from './handles.js';
import { BREAK_GLASS_RULE } from './plan.js';
import type { AlertInput } from './service.js';
import type { Incident } from './store.js';
import type { RespondBreakGlassTable, RespondDb } from './tables.js';

export const MAX_BREAK_GLASS_TTL_MINUTES = 60;
export const MIN_JUSTIFICATION_CHARS = 20;

export interface BreakGlassSession {
  id: string;
  identityId: string;
  justification: string;
  requestedBy: string;
  startedAt: string;
  expiresAt: string;
  endedAt: string | null;
  incidentId: string | null;
}

function fromRow(r: RespondBreakGlassTable): BreakGlassSession {
  return {
    id: r.id,
    identityId: r.identity_id,
    justification: r.justification,
    requestedBy: r.requested_by,
    startedAt: r.started_at,
    expiresAt: r.expires_at,
    endedAt: r.ended_at,
    incidentId: r.incident_id,
  };
}

export class BreakGlassService {
  constructor(
    private readonly db: RespondDb,
    private readonly inventory: Pick<InventoryService, 'getIdentity' | 'setIdentityStatus'>,
    private readonly now: () => Date,
    private readonly openIncident: (alert: AlertInput) => Promise<Incident | undefined>,
  ) {}

  async use(
    identityId: string,
    justification: string,
    ttlMinutes: number,
    meta: WriteMeta,
  ): Promise<BreakGlassSession> {
    const identity = await this.inventory.getIdentity(identityId);
    if (identity.kind !== 'break_glass') {
      throw respondError(
        'RESPOND_NOT_BREAK_GLASS',
        `${identityId} is a ${identity.kind}, not a break-glass account`,
        {
          field: 'params.id',
        },
      );
    }
    if (justification.trim().length < MIN_JUSTIFICATION_CHARS) {
      throw respondError(
        'RESPOND_JUSTIFICATION_REQUIRED',
        `say why, in at least ${MIN_JUSTIFICATION_CHARS} characters`,
        {
          field: 'body.justification',
        },
      );
    }
    if (identity.status === 'quarantined') {
      throw respondError('RESPOND_NOT_BREAK_GLASS', `${identityId} is quarantined by an incident`, {
        field: 'params.id',
      });
    }
    const now = this.now();
    const ttl = Math.min(ttlMinutes, MAX_BREAK_GLASS_TTL_MINUTES);
    const session: BreakGlassSession = {
      id: `bg-${randomBytes(6).toString('hex')}`,
      identityId,
      justification: justification.trim(),
      requestedBy: meta.actor,
      startedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttl * 60_000).toISOString(),
      endedAt: null,
      incidentId: null,
    };
    await this.db
      .insertInto('respond_break_glass')
      .values({
        id: session.id,
        identity_id: identityId,
        justification: session.justification,
        requested_by: session.requestedBy,
        started_at: session.startedAt,
        expires_at: session.expiresAt,
        ended_at: null,
        incident_id: null,
      })
      .execute();
    if (identity.status !== 'active') {
      await this.inventory.setIdentityStatus(
        identityId,
        'active',
        meta,
        `break-glass ${session.id}: ${session.justification}`,
      );
    }
    const incident = await this.openIncident({
      id: `alert-${session.id}`,
      ruleId: BREAK_GLASS_RULE,
      severity: 'high',
      title: `Break-glass ${identityId} unsealed by ${meta.actor} until ${session.expiresAt}: ${session.justification}`,
      identityId,
      credential: null,
      firstSeen: session.startedAt,
    });
    if (incident) {
      session.incidentId = incident.id;
      await this.db
        .updateTable('respond_break_glass')
        .set({ incident_id: incident.id })
        .where('id', '=', session.id)
        .execute();
    }
    return session;
  }

  async get(id: string): Promise<BreakGlassSession> {
    const r = await this.db
      .selectFrom('respond_break_glass')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r)
      throw respondError('RESPOND_BREAK_GLASS_NOT_FOUND', `break-glass session ${id} does not exist`, {
        field: 'params.id',
      });
    return fromRow(r);
  }

  /** Seals the account again (disabled) unless another session of it is still running. Idempotent. */
  async end(id: string, meta: WriteMeta): Promise<BreakGlassSession> {
    const s = await this.get(id);
    if (s.endedAt) return s;
    const now = this.now().toISOString();
    await this.db.updateTable('respond_break_glass').set({ ended_at: now }).where('id', '=', id).execute();
    const other = await this.db
      .selectFrom('respond_break_glass')
      .select('id')
      .where('identity_id', '=', s.identityId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (!other) {
      const identity = await this.inventory.getIdentity(s.identityId);
      if (identity.status === 'active') {
        await this.inventory.setIdentityStatus(s.identityId, 'disabled', meta, `break-glass ${id} ended`);
      }
    }
    return { ...s, endedAt: now };
  }

  /** Ends every session whose TTL is over (called periodically and at start). */
  async endExpired(meta: WriteMeta): Promise<number> {
    const due = await this.db
      .selectFrom('respond_break_glass')
      .select('id')
      .where('ended_at', 'is', null)
      .where('expires_at', '<=', this.now().toISOString())
      .execute();
    for (const { id } of due) await this.end(id, meta);
    return due.length;
  }
}
