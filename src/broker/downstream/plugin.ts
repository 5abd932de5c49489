/**
 * Downstream dynamic credentials: for a task that needs a system the broker cannot front with its own tokens
 * (a database), a plugin creates a credential scoped to the task's intent and lifetime, and destroys it when
 * the task ends. The secret is returned once to the task's workload and never stored.
 */
import type { Task } from '../tasks/task.js';

export interface ProvisionedCredential {
  plugin: string;
  resource: string;
  /** Login name (not secret; stored so the credential can be destroyed). */
  principal: string;
  /** Returned once, never stored or logged. */
  secret: string;
  expires_at: string;
  /** What was granted, for the caller and the audit log. */
  grants: string[];
  /** Connection hints (host, port, database), never containing the secret. */
  connection: Record<string, string | number>;
}

export interface DownstreamPlugin {
  readonly name: string;
  /** True when this plugin serves the inventory resource. */
  handles(resourceId: string): boolean;
  /** Creates a credential for `resource` limited to the task's actions and lifetime. */
  provision(task: Task, resourceId: string): Promise<ProvisionedCredential>;
  /** Destroys a credential (idempotent) and ends its sessions. */
  deprovision(resourceId: string, principal: string): Promise<void>;
  close(): Promise<void>;
}
