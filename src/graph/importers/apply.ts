/**
 * Writes an import plan in ONE transaction: inventory identities/credentials/resources (through the
 * inventory store functions, so rows look exactly like API-created ones), the graph facts, an import record
 * and audit entries. Any failure rolls everything back — the previous inventory stays intact.
 *
 * Re-import rules: a record this import owns (same source and scope label) is updated only when it changed;
 * one missing from the new export is removed (unless the export is partial); a record with the same id owned
 * by another source is a conflict. Containment state survives: a quarantined or disabled identity, or a
 * revoked credential, is never re-activated by an import (revocation wins).
 */
import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditLog } from '../../audit/audit-log.js';
import type { InventoryChange } from '../../inventory/service.js';
import * as inv from '../../inventory/store.js';
import { credentialFromRow, identityFromRow, resourceFromRow } from '../../inventory/rows.js';
import type { Credential, Identity, Resource } from '../../inventory/types.js';
import type { Database } from '../../store/database.js';
import type { Kysely } from 'kysely';
import { graphError } from '../errors.js';
import type { GraphTables } from '../tables.js';
import { SCOPE_LABEL, UniqueIds, type ImportPlan, type ImportWarning } from './plan.js';

export interface ImportMeta {
  actor: string;
  requestId?: string | undefined;
  fileName: string;
}

export interface PrincipalRef {
  id: string;
  name: string;
  principal_id: string | null;
}

export interface ImportReport {
  import_id: string;
  source: string;
  scope: string;
  principals: {
    created: PrincipalRef[];
    updated: PrincipalRef[];
    removed: PrincipalRef[];
    unchanged: number;
  };
  credentials: { created: number; updated: number; removed: number; unchanged: number };
  resources: { created: number; updated: number; removed: number; unchanged: number };
  edges: number;
  warnings: ImportWarning[];
  partial: boolean;
}

export interface ImportOutcome {
  report: ImportReport;
  changes: InventoryChange[];
  /** Graph origins whose edges changed (old and new). */
  origins: string[];
}

const CHUNK = 400;

function ownedBy(
  labels: Record<string, string>,
  source: string,
  recordSource: string,
  scope: string,
): boolean {
  return recordSource === source && labels[SCOPE_LABEL] === scope;
}

function ref(i: Identity): PrincipalRef {
  return {
    id: i.id,
    name: i.labels['source.name'] ?? i.displayName,
    principal_id: i.cloudArn ?? i.labels['k8s.uid'] ?? null,
  };
}

async function byIds<T>(ids: string[], load: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let k = 0; k < ids.length; k += CHUNK) out.push(...(await load(ids.slice(k, k + CHUNK))));
  return out;
}

/** Key-order-independent JSON, so a record read back from the store compares equal to the same draft. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

export async function applyImportPlan(
  db: Kysely<Database>,
  audit: AuditLog,
  now: () => Date,
  plan: ImportPlan,
  meta: ImportMeta,
): Promise<ImportOutcome> {
  const at = now().toISOString();
  const importId = `imp-${randomBytes(6).toString('hex')}`;
  const changes: InventoryChange[] = [];
  const report: ImportReport = {
    import_id: importId,
    source: plan.source,
    scope: plan.scope,
    principals: { created: [], updated: [], removed: [], unchanged: 0 },
    credentials: { created: 0, updated: 0, removed: 0, unchanged: 0 },
    resources: { created: 0, updated: 0, removed: 0, unchanged: 0 },
    edges: 0,
    warnings: plan.warnings,
    partial: plan.partial,
  };
  const auditMeta = { actor: meta.actor, requestId: meta.requestId };
  const origins = new Set<string>(plan.edges.keys());
  // Importers reject duplicates with the export's own path; this catches ids that only collide once
  // made safe (e.g. Kubernetes user `x` and service account `user/x`), before anything is written.
  for (const [list, what, drafts] of [
    ['identities', 'identity', plan.identities],
    ['credentials', 'credential', plan.credentials],
    ['resources', 'resource', plan.resources],
  ] as const) {
    const ids = new UniqueIds();
    drafts.forEach((d, k) => ids.claim(d.id, `${list}[${k}]`, what));
  }

  await db.transaction().execute(async (trx: Transaction<Database>) => {
    const record = (
      action: string,
      targetType: string,
      targetId: string,
      before?: unknown,
      after?: unknown,
    ) => audit.record(trx, { ...auditMeta, action, targetType, targetId, before, after });

    // ---- identities ----
    const existingIdentities = new Map(
      (
        await byIds(
          plan.identities.map((i) => i.id),
          (c) => trx.selectFrom('identities').selectAll().where('id', 'in', c).execute(),
        )
      ).map((r) => [r.id, identityFromRow(r)]),
    );
    const planned = new Set(plan.identities.map((i) => i.id));
    for (const [k, draft] of plan.identities.entries()) {
      const before = existingIdentities.get(draft.id);
      if (!before) {
        const identity: Identity = { ...draft, createdAt: at, updatedAt: at };
        await inv.insertIdentity(trx, identity);
        await record('identity.import-create', 'identity', identity.id, undefined, identity);
        report.principals.created.push(ref(identity));
        changes.push({ entity: 'identity', op: 'create', id: identity.id });
        continue;
      }
      if (!ownedBy(before.labels, plan.source, before.source, plan.scope)) {
        throw graphError(
          'IMPORT_CONFLICT',
          `identity ${draft.id} exists and belongs to source ${before.source}`,
          {
            field: `identities[${k}]`,
          },
        );
      }
      // Labels the source owns are replaced; labels Bulkhead itself set (e.g. a quarantine reason) survive, and
      // so do labels people added — except for a YAML file, which declares the whole record.
      const keptLabels = Object.fromEntries(
        Object.entries(before.labels).filter(
          ([key]) =>
            !Object.hasOwn(draft.labels, key) &&
            !key.startsWith('aws.') &&
            !key.startsWith('k8s.') &&
            key !== 'bulkhead.admin' &&
            (plan.source !== 'yaml' || key.startsWith('bulkhead.')),
        ),
      );
      const after: Identity = {
        ...draft,
        owners: draft.owners.length > 0 ? draft.owners : before.owners,
        // Containment wins over the export: never re-activate a quarantined or disabled identity.
        status: before.status,
        labels: { ...keptLabels, ...draft.labels },
        lastSeenAt: draft.lastSeenAt ?? before.lastSeenAt,
        createdAt: before.createdAt,
        updatedAt: before.updatedAt,
      };
      if (same(after, before)) {
        report.principals.unchanged++;
        continue;
      }
      after.updatedAt = at;
      await inv.updateIdentity(trx, after);
      await record('identity.import-update', 'identity', after.id, before, after);
      report.principals.updated.push(ref(after));
      changes.push({ entity: 'identity', op: 'update', id: after.id });
    }
    const scoped = (
      await trx.selectFrom('identities').selectAll().where('source', '=', plan.source).execute()
    )
      .map(identityFromRow)
      .filter((i) => i.labels[SCOPE_LABEL] === plan.scope);
    const removedIdentities = plan.partial ? [] : scoped.filter((i) => !planned.has(i.id));

    // ---- credentials ----
    const existingCreds = new Map(
      (
        await byIds(
          plan.credentials.map((c) => c.id),
          (c) => trx.selectFrom('credentials').selectAll().where('id', 'in', c).execute(),
        )
      ).map((r) => [r.id, credentialFromRow(r)]),
    );
    const plannedCreds = new Set(plan.credentials.map((c) => c.id));
    for (const [k, draft] of plan.credentials.entries()) {
      const before = existingCreds.get(draft.id);
      if (!before) {
        const credential: Credential = { ...draft, createdAt: at, updatedAt: at };
        await inv.insertCredential(trx, credential);
        await record('credential.import-create', 'credential', credential.id, undefined, credential);
        report.credentials.created++;
        changes.push({ entity: 'credential', op: 'create', id: credential.id });
        continue;
      }
      if (!ownedBy(before.labels, plan.source, before.source, plan.scope)) {
        throw graphError(
          'IMPORT_CONFLICT',
          `credential ${draft.id} exists and belongs to source ${before.source}`,
          {
            field: `credentials[${k}]`,
          },
        );
      }
      const after: Credential = {
        ...draft,
        // Revocation wins: an import never re-activates a revoked credential.
        status: before.status === 'revoked' ? 'revoked' : draft.status,
        consumers: draft.consumers.length > 0 ? draft.consumers : before.consumers,
        storedIn: draft.storedIn.length > 0 ? draft.storedIn : before.storedIn,
        createdAt: before.createdAt,
        updatedAt: before.updatedAt,
      };
      if (same(after, before)) {
        report.credentials.unchanged++;
        continue;
      }
      after.updatedAt = at;
      await inv.updateCredential(trx, after);
      await record('credential.import-update', 'credential', after.id, before, after);
      report.credentials.updated++;
      changes.push({ entity: 'credential', op: 'update', id: after.id });
    }
    if (!plan.partial) {
      const scopedCreds = (
        await trx.selectFrom('credentials').selectAll().where('source', '=', plan.source).execute()
      )
        .map((r) => credentialFromRow(r))
        .filter((c) => c.labels[SCOPE_LABEL] === plan.scope && !plannedCreds.has(c.id));
      for (const c of scopedCreds) {
        await inv.deleteCredential(trx, c.id);
        await record('credential.import-remove', 'credential', c.id, c);
        report.credentials.removed++;
        changes.push({ entity: 'credential', op: 'delete', id: c.id });
      }
    }
    for (const i of removedIdentities) {
      const creds = await trx
        .selectFrom('credentials')
        .select('id')
        .where('identity_id', '=', i.id)
        .execute();
      for (const c of creds) changes.push({ entity: 'credential', op: 'delete', id: c.id });
      await inv.deleteIdentity(trx, i.id);
      await record('identity.import-remove', 'identity', i.id, i);
      report.principals.removed.push(ref(i));
      changes.push({ entity: 'identity', op: 'delete', id: i.id });
    }

    // ---- resources ----
    const existingResources = new Map(
      (
        await byIds(
          plan.resources.map((r) => r.id),
          (c) => trx.selectFrom('resources').selectAll().where('id', 'in', c).execute(),
        )
      ).map((r) => [r.id, resourceFromRow(r)]),
    );
    const plannedResources = new Set(plan.resources.map((r) => r.id));
    for (const draft of plan.resources) {
      const before = existingResources.get(draft.id);
      if (!before) {
        const resource: Resource = { ...draft, createdAt: at, updatedAt: at };
        await inv.insertResource(trx, resource);
        await record('resource.import-create', 'resource', resource.id, undefined, resource);
        report.resources.created++;
        changes.push({ entity: 'resource', op: 'create', id: resource.id });
        continue;
      }
      // A resource someone else registered, or re-classified: link to it, keep their classification.
      report.resources.unchanged++;
    }
    if (!plan.partial) {
      const stale = (
        await trx.selectFrom('resources').selectAll().where('source', '=', plan.source).execute()
      )
        .map(resourceFromRow)
        .filter((r) => r.labels[SCOPE_LABEL] === plan.scope && !plannedResources.has(r.id));
      for (const r of stale) {
        const child = await trx
          .selectFrom('resources')
          .select('id')
          .where('parent_id', '=', r.id)
          .executeTakeFirst();
        if (child) continue;
        await inv.deleteResource(trx, r.id);
        await record('resource.import-remove', 'resource', r.id, r);
        report.resources.removed++;
        changes.push({ entity: 'resource', op: 'delete', id: r.id });
      }
    }

    // ---- graph facts ----
    const g = trx.withTables<GraphTables>();
    const oldOrigins = await g
      .selectFrom('graph_edges')
      .select('origin')
      .distinct()
      .where('source', '=', plan.scope)
      .execute();
    for (const o of oldOrigins) origins.add(o.origin);
    await g.deleteFrom('graph_edges').where('source', '=', plan.scope).execute();
    await g.deleteFrom('graph_nodes').where('source', '=', plan.scope).execute();
    const nodeRows = plan.nodes.map((n) => ({
      key: n.key,
      source: plan.scope,
      type: n.type,
      name: n.name,
      external_id: n.externalId ?? null,
      sensitivity: n.sensitivity ?? null,
      admin: n.admin ? 1 : 0,
      environment: n.environment ?? null,
    }));
    for (let k = 0; k < nodeRows.length; k += CHUNK) {
      const chunk = nodeRows.slice(k, k + CHUNK);
      // A node key can be shared by two scopes (e.g. `external:aws:*`): the latest import's attributes win.
      await g
        .deleteFrom('graph_nodes')
        .where(
          'key',
          'in',
          chunk.map((n) => n.key),
        )
        .execute();
      await g.insertInto('graph_nodes').values(chunk).execute();
    }
    const edgeRows = [...plan.edges.entries()].flatMap(([origin, list]) =>
      list.map((e, seq) => ({
        origin,
        seq,
        source: plan.scope,
        from_key: e.from,
        to_key: e.to,
        kind: e.kind,
        via: e.via.slice(0, 1000),
        method: e.method ?? null,
        conditional: e.conditional ? 1 : 0,
      })),
    );
    for (let k = 0; k < edgeRows.length; k += CHUNK)
      await g
        .insertInto('graph_edges')
        .values(edgeRows.slice(k, k + CHUNK))
        .execute();
    report.edges = edgeRows.length;
    const summary = {
      principals: {
        created: report.principals.created.length,
        updated: report.principals.updated.length,
        removed: report.principals.removed.length,
        unchanged: report.principals.unchanged,
      },
      credentials: report.credentials,
      resources: report.resources,
      edges: report.edges,
      warnings: report.warnings.length,
    };
    await g
      .insertInto('graph_imports')
      .values({
        id: importId,
        source: plan.source,
        file_name: meta.fileName.slice(0, 500),
        actor: meta.actor,
        started_at: at,
        finished_at: now().toISOString(),
        summary: JSON.stringify({ scope: plan.scope, ...summary }),
      })
      .execute();
    await record('graph.import', 'import', importId, undefined, {
      source: plan.source,
      scope: plan.scope,
      file: meta.fileName,
      ...summary,
    });
  });
  return { report, changes, origins: [...origins] };
}
