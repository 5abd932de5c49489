/**
 * The graph's bulk reads of the inventory: only the columns derivation uses, a page at a time in primary-key
 * order. Whole records (timestamps, labels, display names) for 300k credentials would be fetched, parsed and
 * thrown away again, which is most of a full load's time and garbage.
 */
import type { Kysely } from 'kysely';
import type {
  Credential,
  CredentialStatus,
  CredentialType,
  Identity,
  IdentityStatus,
} from '../inventory/types.js';
import type { Database } from '../store/database.js';

/** The part of a credential its graph edges follow from. */
export type GraphCredential = Pick<
  Credential,
  'id' | 'identityId' | 'type' | 'fingerprint' | 'status' | 'scopes' | 'storedIn' | 'consumers'
>;

/** The part of an identity its graph node and edges follow from. */
export type GraphIdentity = Pick<
  Identity,
  | 'id'
  | 'owners'
  | 'groups'
  | 'labels'
  | 'k8sServiceAccount'
  | 'cloudArn'
  | 'spiffeId'
  | 'status'
  | 'environment'
>;

const ROWS_PER_PAGE = 5000;

/**
 * Parses JSON list/label columns, sharing the result between rows with the same text: scopes, storage
 * locations and groups repeat across thousands of records (`["read"]`, `["vault:kv/payments"]`), and
 * derivation only reads them. Bounded, so unique texts (consumer lists) do not pile up.
 */
class SharedJson {
  private readonly parsed = new Map<string, unknown>();
  parse<T>(text: string): T {
    let value = this.parsed.get(text);
    if (value === undefined) {
      value = JSON.parse(text) as unknown;
      if (this.parsed.size >= 1024) this.parsed.clear();
      this.parsed.set(text, value);
    }
    return value as T;
  }
}

/**
 * The pages of `fetch`, paging by id (`fetch(after)` returns up to ROWS_PER_PAGE rows with id > after).
 * Whole pages, not single rows, cross the async iterator: a step through an async generator costs a few
 * promise jobs, which for 400k single rows adds up to most of a second.
 */
async function* byId<R extends { id: string }>(fetch: (after: string) => Promise<R[]>): AsyncGenerator<R[]> {
  for (let after = ''; ;) {
    const rows = await fetch(after);
    yield rows;
    const last = rows[rows.length - 1];
    if (rows.length < ROWS_PER_PAGE || !last) return;
    after = last.id;
  }
}

/** Every credential, a page at a time. */
export async function* graphCredentialPages(db: Kysely<Database>): AsyncGenerator<GraphCredential[]> {
  const pages = byId((after) =>
    db
      .selectFrom('credentials')
      .select(['id', 'identity_id', 'type', 'fingerprint', 'status', 'scopes', 'stored_in', 'consumers'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(ROWS_PER_PAGE)
      .execute(),
  );
  const json = new SharedJson();
  for await (const rows of pages) {
    yield rows.map((r) => ({
      id: r.id,
      identityId: r.identity_id,
      type: r.type as CredentialType,
      fingerprint: r.fingerprint,
      status: r.status as CredentialStatus,
      scopes: json.parse<string[]>(r.scopes),
      storedIn: json.parse<string[]>(r.stored_in),
      consumers: JSON.parse(r.consumers) as string[],
    }));
  }
}

/** Every identity, a page at a time. */
export async function* graphIdentityPages(db: Kysely<Database>): AsyncGenerator<GraphIdentity[]> {
  const pages = byId((after) =>
    db
      .selectFrom('identities')
      .select([
        'id',
        'owners',
        'groups',
        'labels',
        'k8s_service_account',
        'cloud_arn',
        'spiffe_id',
        'status',
        'environment',
      ])
      .where('id', '>', after)
      .orderBy('id')
      .limit(ROWS_PER_PAGE)
      .execute(),
  );
  const json = new SharedJson();
  for await (const rows of pages) {
    yield rows.map((r) => ({
      id: r.id,
      owners: json.parse<string[]>(r.owners),
      groups: json.parse<string[]>(r.groups),
      labels: json.parse<Record<string, string>>(r.labels),
      k8sServiceAccount: r.k8s_service_account,
      cloudArn: r.cloud_arn,
      spiffeId: r.spiffe_id,
      status: r.status as IdentityStatus,
      environment: r.environment,
    }));
  }
}
