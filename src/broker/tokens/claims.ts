/**
 * The claims of a task token (RFC 9068 JWT access token profile, `typ: at+jwt`), with the task's intent as
 * RFC 9396 `authorization_details`, the sender binding as RFC 9449 `cnf.jkt`, and a delegation chain as the
 * RFC 8693 `act` claim.
 */
export const TASK_DETAIL_TYPE = 'urn:bulkhead:task';

export interface AuthorizationDetail {
  type: typeof TASK_DETAIL_TYPE;
  /** The task id. */
  identifier: string;
  actions: string[];
  /** Resource ids (RFC 9396 `locations`). */
  locations: string[];
}

export interface ActClaim {
  sub: string;
  client_id?: string;
  act?: ActClaim;
}

export interface TaskTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  task: string;
  /** The identity owning the task (the subject's identity), kept through exchanges; optional in older tokens. */
  task_identity?: string;
  authorization_details: AuthorizationDetail[];
  cnf?: { jkt: string };
  act?: ActClaim;
  /** jtis of the tokens this one was exchanged from, so revoking a parent revokes its children. */
  parents?: string[];
}

export function delegationDepth(act: ActClaim | undefined): number {
  let n = 0;
  for (let a = act; a; a = a.act) n++;
  return n;
}

/**
 * Every identity id a token speaks for: its client, its task's identity, its subject and each actor of the
 * `act` chain. An identity revocation must reach all of them, or a token delegated to or from a quarantined
 * identity would outlive the quarantine.
 */
export function identitiesOf(
  c: Pick<TaskTokenClaims, 'client_id' | 'task_identity' | 'sub' | 'act'>,
): string[] {
  const ids = [c.client_id, c.sub];
  if (c.task_identity !== undefined) ids.push(c.task_identity);
  for (let a = c.act; a; a = a.act) {
    ids.push(a.sub);
    if (a.client_id !== undefined) ids.push(a.client_id);
  }
  return ids;
}

/** Every action and location a token's details grant, flattened. */
export function grantedIntent(details: AuthorizationDetail[]): {
  actions: Set<string>;
  locations: Set<string>;
} {
  const actions = new Set<string>();
  const locations = new Set<string>();
  for (const d of details) {
    for (const a of d.actions) actions.add(a);
    for (const l of d.locations) locations.add(l);
  }
  return { actions, locations };
}

export function isTaskTokenClaims(
  p: Record<string, unknown>,
): p is TaskTokenClaims & Record<string, unknown> {
  return (
    typeof p.sub === 'string' &&
    typeof p.aud === 'string' &&
    typeof p.jti === 'string' &&
    typeof p.task === 'string' &&
    typeof p.client_id === 'string' &&
    (p.task_identity === undefined || typeof p.task_identity === 'string') &&
    typeof p.exp === 'number' &&
    Array.isArray(p.authorization_details) &&
    p.authorization_details.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        Array.isArray((d as AuthorizationDetail).actions) &&
        Array.isArray((d as AuthorizationDetail).locations),
    )
  );
}
