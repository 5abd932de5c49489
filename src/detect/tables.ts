/** Tables of the detect module (JSON as text, timestamps as ISO-8601 text). */
export type DetectAlertsTable = {
  id: string;
  dedup_key: string;
  rule_id: string;
  title: string;
  severity: string;
  /** Numeric rank of `severity` (1 low … 4 critical) so "high or worse" is one indexed comparison. */
  severity_rank: number;
  techniques: string;
  identity: string;
  identity_id: string | null;
  unmanaged: number;
  credential: string | null;
  event_ids: string;
  first_seen: string;
  last_seen: string;
  count: number;
  source: string;
  explanation: string;
  suggested_response: string;
  signal: string | null;
  created_at: string;
  updated_at: string;
};

export type DetectBaselinesTable = {
  /** `identity` or `credential`. */
  kind: string;
  key: string;
  state: string;
  updated_at: string;
};

export type DetectTables = {
  detect_alerts: DetectAlertsTable;
  detect_baselines: DetectBaselinesTable;
};
