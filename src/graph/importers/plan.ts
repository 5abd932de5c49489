/**
 * What every importer produces: inventory records to upsert, graph nodes and edges to store, and warnings.
 * `applyImportPlan` writes a plan in one transaction; records of the same source and scope that the plan no
 * longer contains are removed (that is what makes re-import idempotent and reports removed principals).
 */
import type { Credential, Identity, Resource } from '../../inventory/types.js';
import { graphError } from '../errors.js';
import type { GraphEdgeInput, GraphNodeInput } from '../model.js';

export type IdentityDraft = Omit<Identity, 'createdAt' | 'updatedAt'>;
export type CredentialDraft = Omit<Credential, 'createdAt' | 'updatedAt'>;
export type ResourceDraft = Omit<Resource, 'createdAt' | 'updatedAt'>;

export interface ImportWarning {
  field: string;
  code: string;
  message: string;
}

export interface ImportPlan {
  /** `aws-iam`, `k8s-rbac`, `yaml`: the `source` of every record written. */
  source: string;
  /** Records of this source carrying label `bulkhead.import-scope` = scope are owned by this import. */
  scope: string;
  identities: IdentityDraft[];
  credentials: CredentialDraft[];
  resources: ResourceDraft[];
  nodes: GraphNodeInput[];
  /** Graph edges by origin (one origin per principal, so a changed principal replaces only its edges). */
  edges: Map<string, GraphEdgeInput[]>;
  warnings: ImportWarning[];
  /** A partial export: do not remove records that are missing from it. */
  partial: boolean;
}

export const SCOPE_LABEL = 'bulkhead.import-scope';

/** Inventory ids allow `[A-Za-z0-9._@:+=~-]`; anything else becomes `_`, long ids keep a hash suffix. */
export function safeId(raw: string): string {
  let id = raw.replace(/[^A-Za-z0-9._@:+=~-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  if (id.length > 190) {
    let h = 0;
    for (let i = 0; i < raw.length; i++) h = (Math.imul(h, 31) + raw.charCodeAt(i)) | 0;
    id = `${id.slice(0, 180)}~${(h >>> 0).toString(36)}`;
  }
  return id || 'x';
}

/**
 * Remembers which input field produced each record id and rejects a second one. Two entries that become the
 * same record would otherwise fail the insert or, worse, be merged silently: one principal hiding another.
 */
export class UniqueIds {
  private readonly seen = new Map<string, string>();

  claim(id: string, field: string, what: string): void {
    const first = this.seen.get(id);
    if (first !== undefined) {
      throw graphError(
        'IMPORT_INVALID',
        `duplicate ${what}: ${field} is the same record (${id}) as ${first}`,
        {
          field,
        },
      );
    }
    this.seen.set(id, field);
  }
}
