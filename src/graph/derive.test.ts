import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactGraph } from './compact-graph.js';
import { deriveCredential, deriveIdentity, deriveResource, type DeriveLookup } from './derive.js';

const lookup: DeriveLookup = {
  identityExists: (id) => ['svc-a', 'user-1', 'svc-b'].includes(id),
  resourceExists: (id) => id === 'payments-db',
  resourcesWithPrefix: () => [],
  resourceForLocation: (l) => (l.startsWith('vault:kv/payments') ? 'vault-kv-payments' : null),
};

/** Every edge of the graph as `from -> to: via`, as the graph reads it back. */
function viaTexts(g: CompactGraph): string[] {
  const out: string[] = [];
  for (let n = 0; n < g.nodeCount; n++)
    g.forEachOut(n, (e, to) => out.push(`${g.key(n)} -> ${g.key(to)}: ${g.edgeVia(e)}`));
  return out.sort();
}

void describe('derived via texts', () => {
  void it('read back from the graph as full sentences naming both ends', () => {
    const g = new CompactGraph();
    const records = [
      deriveResource({
        id: 'payments-db.cards',
        type: 'table',
        displayName: 'cards',
        sensitivity: 'regulated',
        environment: 'prod',
        owners: [],
        parentId: 'payments-db',
        source: 'manual',
        labels: {},
        createdAt: '',
        updatedAt: '',
      }),
      deriveIdentity(
        {
          id: 'svc-a',
          owners: ['user-1', 'team:x'],
          groups: ['deployers'],
          labels: {},
          k8sServiceAccount: null,
          cloudArn: null,
          spiffeId: null,
          status: 'active',
          environment: 'prod',
        },
        lookup,
      ),
      deriveCredential(
        {
          id: 'cred-1',
          identityId: 'svc-a',
          type: 'api_key',
          fingerprint: 'sha256:1',
          status: 'active',
          scopes: ['db:payments-db:rw'],
          storedIn: ['vault:kv/payments/db', 'laptop:user-1/.env'],
          consumers: ['svc-a', 'svc-b'],
        },
        'prod',
        lookup,
      ),
    ];
    for (const d of records) {
      for (const n of d.nodes) g.upsertNode(n);
      g.loadOrigin(d.origin, d.edges);
    }
    g.compact();
    assert.deepEqual(viaTexts(g), [
      'credential:cred-1 -> identity:svc-a: authenticates as svc-a (api_key)',
      'credential:cred-1 -> resource:payments-db: db:payments-db:rw',
      'identity:svc-a -> credential:cred-1: holds credential cred-1',
      'identity:svc-a -> group:deployers: member of deployers',
      'identity:svc-b -> credential:cred-1: consumes credential cred-1',
      'identity:user-1 -> identity:svc-a: owner of svc-a',
      "identity:user-1 -> location:laptop:user-1/.env: reads files on user-1's machine",
      'location:laptop:user-1/.env -> credential:cred-1: stored in laptop:user-1/.env',
      'resource:payments-db -> resource:payments-db.cards: payments-db contains payments-db.cards',
      'resource:vault-kv-payments -> credential:cred-1: stored in vault:kv/payments/db',
    ]);
  });
});
