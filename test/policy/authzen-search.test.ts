/**
 * AuthZEN search over an inventory larger than a page: a page costs the evaluations it needs (not one per
 * identity), tokens walk the whole result set, a scan stops at its candidate budget and says so, the event
 * loop keeps turning, and the decision cache is left to real requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityCreateSchema } from '../../src/inventory/schemas.js';
import { coreModule } from '../../src/modules/index.js';
import { searchSubjects } from '../../src/policy/authzen/search.js';
import { createPolicyModule } from '../../src/policy/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const IDENTITIES = 600;
const id = (n: number) => `u${String(n).padStart(3, '0')}`;
/** Every even identity reads. */
const readers = Array.from({ length: IDENTITIES / 2 }, (_, n) => id(2 * n));
const query = (action: string) => ({
  subject: { type: 'user' },
  action: { name: action },
  resource: { type: 'record', id: 'r1' },
});

void describe('AuthZEN search over many identities', () => {
  let server: TestServer;
  const mod = createPolicyModule({ pollMs: 0 });
  const pdp = () => mod.runtime().pdp;

  before(async () => {
    server = await startTestServer({ modules: [coreModule, mod] });
    for (let n = 0; n < IDENTITIES; n++) {
      await server.ctx.inventory.createIdentity(
        identityCreateSchema.parse({
          id: id(n),
          kind: 'human',
          displayName: id(n),
          environment: 'prod',
          groups: n % 2 === 0 ? ['readers'] : [],
        }),
        { actor: 'test' },
      );
    }
    const res = await server.call('POST', '/v1/policies', {
      body: {
        policies: 'permit (principal in Group::"readers", action == Action::"read", resource);',
        actions: ['write'],
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
  after(async () => {
    await server.stop();
  });

  void it('a page evaluates only the candidates up to one match past it, and caches none', async (t) => {
    const decide = t.mock.method(pdp(), 'decide');
    const cacheBefore = pdp().cacheSize;
    const res = await searchSubjects(pdp(), { ...query('read'), page: { limit: 5 } });
    assert.deepEqual(
      res.results.map((r) => r.id),
      readers.slice(0, 5),
    );
    assert.equal(res.page.count, 5);
    assert.notEqual(res.page.next_token, '');
    // u000 … u010: the sixth match shows there is a next page.
    assert.equal(decide.mock.callCount(), 11);
    assert.equal(pdp().cacheSize, cacheBefore, 'what-if evaluations stay out of the decision cache');
  });

  void it('page tokens walk every match exactly once, in order, over HTTP', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const res = await server.call('POST', '/access/v1/search/subject', {
        body: { ...query('read'), page: { limit: 7, ...(token ? { token } : {}) } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ids = (res.body.results as { id: string }[]).map((r) => r.id);
      assert.equal(res.body.page.count, ids.length);
      seen.push(...ids);
      token = res.body.page.next_token as string;
      pages++;
    } while (token && pages < 100);
    assert.deepEqual(seen, readers);
    assert.equal(pages, Math.ceil(readers.length / 7));
  });

  void it('a scan stops at its candidate budget, says so, and its token resumes where it stopped', async () => {
    let token = '';
    let pages = 0;
    do {
      const res = await searchSubjects(
        pdp(),
        { ...query('write'), page: { limit: 5, ...(token ? { token } : {}) } },
        { maxCandidates: 50 },
      );
      assert.deepEqual(res.results, []);
      token = res.page.next_token;
      pages++;
      // The last 50 candidates are scanned to the end: nothing left, nothing truncated.
      assert.deepEqual(res.page.properties, token ? { truncated: true, evaluated: 50 } : undefined);
    } while (token && pages < 100);
    assert.equal(pages, IDENTITIES / 50);
  });

  void it('yields to the event loop while it scans', async () => {
    let done = false;
    let ranDuringSearch = false;
    setImmediate(() => (ranDuringSearch = !done));
    const res = await searchSubjects(pdp(), query('write'));
    done = true;
    assert.deepEqual(res.results, []);
    assert.equal(ranDuringSearch, true);
  });
});
