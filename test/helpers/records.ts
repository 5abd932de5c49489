/**
 * Inventory records for unit tests that build indexes and snapshots without a store: every field present,
 * with plain defaults, and whatever the test cares about given.
 */
import type { Identity, Resource } from '../../src/inventory/types.js';

const T = '2026-01-01T00:00:00.000Z';

export function identityRecord(p: Partial<Identity> & Pick<Identity, 'id' | 'kind'>): Identity {
  return {
    displayName: p.id,
    spiffeId: null,
    cloudArn: null,
    k8sServiceAccount: null,
    owners: [],
    groups: [],
    environment: 'prod',
    source: 'test',
    labels: {},
    status: 'active',
    createdAt: T,
    updatedAt: T,
    lastSeenAt: null,
    ...p,
  };
}

export function resourceRecord(p: Partial<Resource> & Pick<Resource, 'id'>): Resource {
  return {
    type: 'database',
    displayName: p.id,
    sensitivity: 'internal',
    environment: 'prod',
    owners: [],
    parentId: null,
    source: 'test',
    labels: {},
    createdAt: T,
    updatedAt: T,
    ...p,
  };
}
