export interface PostureSnapshotsTable {
  id: string;
  taken_at: string;
  /** Organisation score × 10 (integer, portable). */
  org_score_x10: number;
  identities: number;
  findings: number;
  /** JSON: counts by severity and by NHI id. */
  by_severity: string;
  by_nhi: string;
}

export interface PostureUsageTable {
  identity_id: string;
  action: string;
  /** '' when the event named no resource (keeps the primary key portable). */
  resource: string;
  count: number;
  first_seen: string;
  last_seen: string;
}

// A type alias (not an interface) so it satisfies Kysely's `withTables` record constraint.
export type PostureTables = {
  posture_snapshots: PostureSnapshotsTable;
  posture_usage: PostureUsageTable;
};
