/** Graph facts that do not live in the inventory: imported policy-evaluated edges and the nodes they name. */
export interface GraphNodesTable {
  key: string;
  /** Importer that wrote it (`aws-iam`, `k8s-rbac`, `yaml`). */
  source: string;
  type: string;
  name: string;
  external_id: string | null;
  sensitivity: string | null;
  admin: number;
  environment: string | null;
}

export interface GraphEdgesTable {
  /** Edges are replaced per origin, e.g. `aws-iam:arn:aws:iam::111122223333:user/alice`. */
  origin: string;
  seq: number;
  source: string;
  from_key: string;
  to_key: string;
  kind: string;
  via: string;
  method: string | null;
  conditional: number;
}

export interface GraphImportsTable {
  id: string;
  source: string;
  file_name: string;
  actor: string;
  started_at: string;
  finished_at: string;
  /** JSON: counts of created/updated/removed principals, warnings. */
  summary: string;
}

// A type alias (not an interface) so it satisfies Kysely's `withTables` record constraint.
export type GraphTables = {
  graph_nodes: GraphNodesTable;
  graph_edges: GraphEdgesTable;
  graph_imports: GraphImportsTable;
};
