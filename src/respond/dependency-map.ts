/**
 * What breaks if we contain something. Containment reads dependencies through this small interface so the
 * graph module can replace the inventory-based answer later without touching playbooks.
 */
import type { InventoryService } from '../inventory/service.js';
import type { Credential, Resource } from '../inventory/types.js';
import type { GraphTierFacts, Reach } from './tiers.js';

export interface Dependent {
  /** The workload / identity that would lose access. */
  identityId: string;
  /** Through which credential (null when the dependency is not a credential, e.g. code that runs as it). */
  credentialId: string | null;
  /** Where this was found when not the inventory's credential consumers (e.g. `graph: runs as …`). */
  via?: string | undefined;
}

export interface DependencyMap {
  /** Identities that use the credential (the owner too, when it is listed as a consumer). */
  consumersOf(credentialId: string): Promise<Dependent[]>;
  /** Identities (other than `identityId`) that use any active credential owned by `identityId`. */
  dependentsOf(identityId: string): Promise<Dependent[]>;
  /** Active credentials owned by the identity. */
  credentialsOf(identityId: string): Promise<Credential[]>;
  /** Every resource by id (for reach and tier computation). */
  resources(): Promise<Map<string, Resource>>;
  /**
   * What the identity can reach, when a richer source (the graph: grants, roles, parents) knows; undefined
   * falls back to the resources named in credential scopes.
   */
  reachOf?(identityId: string, resources?: Map<string, Resource>): Promise<Reach[] | undefined>;
  /** Admin-equivalent reach and privilege-escalation paths (the graph); undefined when unknown. */
  graphFactsOf?(identityId: string): Promise<GraphTierFacts | undefined>;
  /** The same for several identities in one walk (undefined without a graph). */
  graphFactsOfMany?(identityIds: string[]): Promise<Map<string, GraphTierFacts> | undefined>;
}

type InventoryReader = Pick<InventoryService, 'listCredentials' | 'findCredential' | 'listResources'>;

/** The dependency map from inventory credential `consumers` and resource parents. */
export class InventoryDependencyMap implements DependencyMap {
  constructor(private readonly inventory: InventoryReader) {}

  async consumersOf(credentialId: string): Promise<Dependent[]> {
    const c = await this.inventory.findCredential(credentialId);
    if (!c) return [];
    return c.consumers.map((identityId) => ({ identityId, credentialId: c.id }));
  }

  async dependentsOf(identityId: string): Promise<Dependent[]> {
    const out: Dependent[] = [];
    for (const c of await this.credentialsOf(identityId)) {
      for (const consumer of c.consumers) {
        if (consumer !== identityId) out.push({ identityId: consumer, credentialId: c.id });
      }
    }
    return out;
  }

  async credentialsOf(identityId: string): Promise<Credential[]> {
    const out: Credential[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.inventory.listCredentials({ identity_id: identityId, limit: 500, cursor });
      out.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }

  async resources(): Promise<Map<string, Resource>> {
    const out = new Map<string, Resource>();
    let cursor: string | undefined;
    do {
      const page = await this.inventory.listResources({ limit: 500, cursor });
      for (const r of page.items) out.set(r.id, r);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out;
  }
}
