/**
 * Actor resolution: maps what a log calls an actor (an ARN, an access key id, a Kubernetes SA username, a
 * Bulkhead identity id) to an inventory identity. Credential fingerprints win (an access key id names
 * exactly one identity); then ARNs (a session's issuing role ARN, then the actor ARN), then SA references.
 * Anything left over is unmanaged: an identity acting in production that nobody inventoried.
 */
import { createHash } from 'node:crypto';
import type { Credential, Identity, IdentityKind } from '../inventory/types.js';
import type { NormalizedEvent } from './event.js';

export interface InventorySnapshot {
  identities: readonly Identity[];
  credentials: readonly Credential[];
}

export class ActorResolver {
  private readonly byId = new Map<string, Identity>();
  private readonly byArn = new Map<string, Identity>();
  private readonly bySa = new Map<string, Identity>();
  private readonly byFingerprint = new Map<string, Credential>();
  private readonly credById = new Map<string, Credential>();

  constructor(snapshot: InventorySnapshot = { identities: [], credentials: [] }) {
    for (const i of snapshot.identities) this.addIdentity(i);
    for (const c of snapshot.credentials) this.addCredential(c);
  }

  addIdentity(identity: Identity): void {
    this.byId.set(identity.id, identity);
    if (identity.cloudArn) this.byArn.set(identity.cloudArn, identity);
    if (identity.k8sServiceAccount) this.bySa.set(identity.k8sServiceAccount, identity);
  }

  addCredential(credential: Credential): void {
    this.byFingerprint.set(credential.fingerprint, credential);
    this.credById.set(credential.id, credential);
  }

  get identityCount(): number {
    return this.byId.size;
  }

  /** Fills in the inventory fields of the event's actor and credential; returns false if unmanaged. */
  resolve(event: NormalizedEvent): boolean {
    const actor = event.actor;
    let identity: Identity | undefined;
    const cred = event.credential
      ? (this.byFingerprint.get(event.credential.id) ?? this.credById.get(event.credential.id))
      : undefined;
    if (cred && event.credential) {
      event.credential.credentialId = cred.id;
      event.credential.consumers = cred.consumers;
      event.credential.lastUsedAt = cred.lastUsedAt;
      identity = this.byId.get(cred.identityId);
    }
    if (!identity && actor.identityId) identity = this.byId.get(actor.identityId);
    if (!identity && actor.principal)
      identity = this.byArn.get(actor.principal) ?? this.bySa.get(actor.principal);
    if (!identity) identity = this.byArn.get(actor.name) ?? this.byId.get(actor.name);
    if (!identity) {
      actor.unmanaged = true;
      return false;
    }
    actor.identityId = identity.id;
    actor.kind = identity.kind;
    actor.labels = identity.labels;
    actor.unmanaged =
      identity.source === 'discovered' && identity.labels.unmanaged === 'true' ? true : undefined;
    return true;
  }
}

/** The key a baseline and an alert are grouped by: the inventory id, else the stable principal. */
export function actorKey(event: NormalizedEvent): string {
  return event.actor.identityId ?? event.actor.principal ?? event.actor.name;
}

/** What an auto-discovered identity looks like in the inventory (source `discovered`, `unmanaged=true`). */
export function discoveredIdentityFor(event: NormalizedEvent): {
  id: string;
  kind: IdentityKind;
  displayName: string;
  cloudArn: string | null;
  k8sServiceAccount: string | null;
} {
  const name = event.actor.principal ?? event.actor.name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  const kind: IdentityKind =
    event.actor.type === 'Root'
      ? 'break_glass'
      : event.actor.type === 'User'
        ? event.actor.name.startsWith('system:')
          ? 'workload'
          : 'human'
        : event.actor.type === 'AssumedRole' || event.actor.type === 'Role'
          ? 'workload'
          : 'service_account';
  const arn = /^arn:[a-z-]+:[a-z0-9-]+:/.test(name) ? name : null;
  const sa =
    event.actor.type === 'ServiceAccount' &&
    event.actor.principal &&
    /^[a-z0-9][a-z0-9.-]*\/[a-z0-9][a-z0-9.-]*$/.test(event.actor.principal)
      ? event.actor.principal
      : null;
  return {
    id: `discovered-${hash}`,
    kind,
    displayName: name.length > 200 ? name.slice(0, 200) : name,
    cloudArn: arn,
    k8sServiceAccount: sa,
  };
}
