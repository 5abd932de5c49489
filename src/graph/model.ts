/**
 * The identity graph's vocabulary. An edge `from → to` always means "whoever controls `from` can act as, or
 * reach, `to`", so reachability is attack reachability: a compromised identity reaches every node it can walk to.
 */
import type { Sensitivity } from '../inventory/types.js';

export const EDGE_KINDS = [
  'has_permission',
  'can_assume',
  'can_read_secret_of',
  'member_of',
  'owns',
  'runs_as',
  'can_modify_policy_of',
  /** A parent resource reaches its children (a database its tables, an account its buckets). */
  'contains',
] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

export const NODE_TYPES = [
  'identity',
  'credential',
  'group',
  'role',
  'policy',
  'resource',
  /** Synthetic "full control of a system" node, e.g. `admin:aws:111122223333`. */
  'admin',
  /** A place where secrets live that is not an inventory resource (a laptop, a vendor). */
  'secret_location',
  /** A principal outside the imported scope (another AWS account, a federated IdP). */
  'external',
] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** 0 = not a data node; higher is more sensitive. Admin nodes rank as `regulated`. */
export const SENSITIVITY_RANK: Record<Sensitivity, number> = {
  public: 1,
  internal: 2,
  confidential: 3,
  regulated: 4,
};
export const RANKED_SENSITIVITIES: readonly Sensitivity[] = [
  'public',
  'internal',
  'confidential',
  'regulated',
];

export function sensitivityOfRank(rank: number): Sensitivity | null {
  return rank >= 1 && rank <= 4 ? (RANKED_SENSITIVITIES[rank - 1] ?? null) : null;
}

/**
 * Cost of walking an edge for "fastest path" queries: a membership is free, using a permission you already
 * hold is cheap, stealing a secret or rewriting a policy takes an attacker more steps and is more visible.
 */
export const EDGE_COST: Record<EdgeKind, number> = {
  member_of: 0,
  contains: 0,
  has_permission: 1,
  runs_as: 1,
  can_assume: 1,
  owns: 2,
  can_read_secret_of: 2,
  can_modify_policy_of: 3,
};

export const NODE_FLAG_ADMIN = 1;
export const NODE_FLAG_DELETED = 2;
export const NODE_FLAG_DISABLED = 4;

/** Attributes of a node as loaded into the graph. */
export interface GraphNodeInput {
  key: string;
  type: NodeType;
  /** Human label; for principals the name as in the source (IAM user name, `namespace/sa`). */
  name: string;
  /** ARN, uid or inventory id of the thing. */
  externalId?: string | null;
  sensitivity?: Sensitivity | null;
  admin?: boolean;
  disabled?: boolean;
  environment?: string | null;
}

/** One edge fact. `origin` groups the facts that are replaced together when their source changes. */
export interface GraphEdgeInput {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The permission or trust that enables the step, e.g. `s3:GetObject`, `trust policy of role/etl`. */
  via: string;
  /** Short name of the privilege-escalation method, when the edge is one (e.g. `iam:CreatePolicyVersion`). */
  method?: string | null;
  /** The edge rests on a policy condition that was not evaluated (treated as allowing, conservatively). */
  conditional?: boolean;
  /**
   * `via` was made by `viaTemplate`: the endpoints' ids in it are placeholders, filled in when read. Lets
   * derivation hand 300k `holds credential <id>` texts to the graph as one shared string.
   */
  viaTemplate?: boolean;
}

/** Placeholders in a via template for the id part (after the first `:`) of the edge's target / source key. */
export const VIA_TO_ID = '\u0001';
export const VIA_FROM_ID = '\u0002';
/** First character of every stored via template. */
export const VIA_TEMPLATE_MARK = '\u0000';

/**
 * A via template (see `GraphEdgeInput.viaTemplate`), e.g. `viaTemplate(\`holds credential ${VIA_TO_ID}\`)`.
 * The rest of the text must not contain the placeholder characters: build templates from constant text.
 */
export function viaTemplate(text: string): string {
  return VIA_TEMPLATE_MARK + text;
}

export interface PathStep {
  from: string;
  to: string;
  via: string;
  kind: EdgeKind;
  method?: string;
  conditional?: boolean;
}

export const nodeKey = {
  identity: (id: string) => `identity:${id}`,
  credential: (id: string) => `credential:${id}`,
  resource: (id: string) => `resource:${id}`,
  group: (name: string) => `group:${name}`,
  admin: (scope: string) => `admin:${scope}`,
  location: (where: string) => `location:${where}`,
};
