/** Loads the AuthZEN interop scenarios (test/fixtures/authzen) as inventory + Cedar policies. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from '../helpers/server.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'authzen');
export const fixture = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

export async function loadInteropScenarios(server: TestServer): Promise<void> {
  const post = async (path: string, body: unknown) => {
    const res = await server.call('POST', path, { body });
    assert.ok(res.status < 300, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const todoUsers = fixture('todo-users.json') as Record<
    string,
    { email: string; name: string; roles: string[] }
  >;
  for (const [pid, u] of Object.entries(todoUsers)) {
    await post('/v1/identities', {
      id: pid,
      kind: 'human',
      displayName: u.name,
      environment: 'interop',
      groups: u.roles,
      labels: { email: u.email },
      source: 'authzen-todo',
    });
  }
  for (const u of fixture('search-data-users.json') as { id: string; role: string; department: string }[]) {
    await post('/v1/identities', {
      id: u.id,
      kind: 'human',
      displayName: u.id,
      environment: 'interop',
      groups: [u.role],
      labels: { department: u.department },
      source: 'authzen-search',
    });
  }
  const records = fixture('search-data-records.json') as {
    id: number;
    title: string;
    department: string;
    owner: string;
  }[];
  for (const r of records) {
    await post('/v1/resources', {
      id: String(r.id),
      type: 'record',
      displayName: r.title,
      sensitivity: 'internal',
      environment: 'interop',
      owners: [r.owner],
      labels: { department: r.department, title: r.title },
      source: 'authzen-search',
    });
  }
  await post('/v1/policies', {
    policies: readFileSync(join(FIXTURES, 'interop-policies.cedar'), 'utf8'),
    actions: fixture('interop-actions.json'),
    comment: 'AuthZEN interop scenarios',
  });
}
