/**
 * Loads the demo organisation through the normal inventory service (validated and audited like any other
 * write). Existing ids are left alone, so loading twice is harmless.
 */
import type { InventoryService } from '../inventory/service.js';
import { buildDemoData } from './demo-data.js';

export interface DemoLoadResult {
  identities: number;
  credentials: number;
  resources: number;
}

/** Loads every demo record that does not exist yet. Resources are created parents-first. */
export async function loadDemoData(inventory: InventoryService, now: Date): Promise<DemoLoadResult> {
  const data = buildDemoData(now);
  const meta = { actor: 'system:demo' };
  const result: DemoLoadResult = { identities: 0, credentials: 0, resources: 0 };
  // People first: NHIs name them as owners.
  const ordered = [...data.identities].sort(
    (a, b) => Number(b.kind === 'human') - Number(a.kind === 'human'),
  );
  for (const identity of ordered) {
    if (identity.id && (await inventory.findIdentity(identity.id))) continue;
    await inventory.createIdentity(identity, meta);
    result.identities++;
  }
  for (const resource of data.resources) {
    if (resource.id && (await inventory.findResource(resource.id))) continue;
    await inventory.createResource(resource, meta);
    result.resources++;
  }
  for (const credential of data.credentials) {
    if (credential.id && (await inventory.findCredential(credential.id))) continue;
    await inventory.createCredential(credential, meta);
    result.credentials++;
  }
  return result;
}
