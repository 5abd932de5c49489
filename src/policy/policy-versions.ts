/**
 * Stored policy versions and the active-version pointer. Every write runs in one transaction with its
 * audit entry; activation is a single-row update, so readers see the old or the new version, never a mix.
 */
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../audit/audit-log.js';
import { policyError } from './errors.js';
import { compileBundle, type CompiledBundle, type PolicyBundle } from './policy-bundle.js';
import { coreTrx, type PolicyDatabase, type PolicyVersionTable } from './tables.js';

export interface PolicyVersionInfo {
  version: number;
  sha256: string;
  comment: string | null;
  createdAt: string;
  createdBy: string;
  active: boolean;
  policyIds?: string[];
  bundle?: PolicyBundle;
}

export interface WriteMeta {
  actor: string;
  requestId?: string | undefined;
}

export class PolicyVersionStore {
  constructor(
    private readonly db: Kysely<PolicyDatabase>,
    private readonly audit: AuditLog,
    private readonly now: () => Date,
  ) {}

  async activeVersion(): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('policy_active')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirst();
    return row?.version;
  }

  async row(version: number): Promise<PolicyVersionTable> {
    const v = await this.db
      .selectFrom('policy_versions')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
    if (!v) {
      throw policyError('POLICY_VERSION_NOT_FOUND', `policy version ${version} does not exist`, {
        field: 'params.version',
      });
    }
    return v;
  }

  /**
   * Inserts the next version (and activates it when asked) in one transaction. Two concurrent pushes on
   * PostgreSQL can pick the same number; the loser retries with the next one.
   */
  async insert(
    bundle: PolicyBundle,
    compiled: CompiledBundle,
    opts: { comment?: string | undefined; activate: boolean },
    meta: WriteMeta,
  ): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.insertOnce(bundle, compiled, opts, meta);
      } catch (err) {
        if (attempt >= 3 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  private async insertOnce(
    bundle: PolicyBundle,
    compiled: CompiledBundle,
    opts: { comment?: string | undefined; activate: boolean },
    meta: WriteMeta,
  ): Promise<number> {
    const now = this.now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const last = await trx
        .selectFrom('policy_versions')
        .select((eb) => eb.fn.max('version').as('v'))
        .executeTakeFirst();
      const next = Number(last?.v ?? 0) + 1;
      const row: PolicyVersionTable = {
        version: next,
        bundle: JSON.stringify(bundle),
        sha256: compiled.sha256,
        comment: opts.comment ?? null,
        created_at: now,
        created_by: meta.actor,
      };
      await trx.insertInto('policy_versions').values(row).execute();
      await this.audit.record(coreTrx(trx), {
        actor: meta.actor,
        action: 'policy.push',
        targetType: 'policy_version',
        targetId: String(next),
        requestId: meta.requestId,
        after: {
          version: next,
          sha256: compiled.sha256,
          comment: row.comment,
          policies: [...compiled.policies.keys()],
        },
      });
      if (opts.activate) await this.activateIn(trx, next, meta, now);
      return next;
    });
  }

  async activate(version: number, meta: WriteMeta): Promise<void> {
    await this.db
      .transaction()
      .execute((trx) => this.activateIn(trx, version, meta, this.now().toISOString()));
  }

  private async activateIn(
    t: Transaction<PolicyDatabase>,
    version: number,
    meta: WriteMeta,
    now: string,
  ): Promise<void> {
    const before = await t.selectFrom('policy_active').selectAll().where('id', '=', 1).executeTakeFirst();
    if (before) {
      await t
        .updateTable('policy_active')
        .set({ version, activated_at: now, activated_by: meta.actor })
        .where('id', '=', 1)
        .execute();
    } else {
      await t
        .insertInto('policy_active')
        .values({ id: 1, version, activated_at: now, activated_by: meta.actor })
        .execute();
    }
    await this.audit.record(coreTrx(t), {
      actor: meta.actor,
      action: 'policy.activate',
      targetType: 'policy_version',
      targetId: String(version),
      requestId: meta.requestId,
      before: before ? { version: before.version } : null,
      after: { version },
    });
  }

  async describe(version: number, withBundle = false): Promise<PolicyVersionInfo> {
    const v = await this.row(version);
    const active = await this.activeVersion();
    const bundle = JSON.parse(v.bundle) as PolicyBundle;
    const compiled = compileBundle(bundle);
    return {
      version: v.version,
      sha256: v.sha256,
      comment: v.comment,
      createdAt: v.created_at,
      createdBy: v.created_by,
      active: active === v.version,
      ...(compiled.ok ? { policyIds: [...compiled.compiled.policies.keys()] } : {}),
      ...(withBundle ? { bundle } : {}),
    };
  }

  async list(): Promise<PolicyVersionInfo[]> {
    const rows = await this.db
      .selectFrom('policy_versions')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(200)
      .execute();
    const active = await this.activeVersion();
    return rows.map((v) => ({
      version: v.version,
      sha256: v.sha256,
      comment: v.comment,
      createdAt: v.created_at,
      createdBy: v.created_by,
      active: active === v.version,
    }));
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '23505' || (typeof e.message === 'string' && /UNIQUE constraint failed/.test(e.message));
}
