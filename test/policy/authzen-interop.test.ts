/**
 * The public AuthZEN interop suites (Todo 1.0, API gateway, Search) replayed against /access/v1/*. The
 * scenarios' users and records are loaded as ordinary inventory and their rules as ordinary Cedar
 * policies (test/fixtures/authzen); nothing in the PDP knows about these scenarios.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { fixture, loadInteropScenarios } from './interop-fixture.js';

interface DecisionCase {
  request: any;
  expected: any;
}

const key = (e: Record<string, string>) => `${e.type ?? ''}|${e.id ?? ''}|${e.name ?? ''}`;

void describe('AuthZEN 1.0 interop suites', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await loadInteropScenarios(server);
  });
  after(async () => {
    await server.stop();
  });

  const decisionFiles = [
    'todo-decisions-1_0-00.json',
    'todo-decisions-1_0-01.json',
    'todo-decisions-1_0-02.json',
    'api-gateway-decisions.json',
  ];
  for (const file of decisionFiles) {
    void it(`${file}: every decision matches`, async () => {
      const data = fixture(file);
      const single = (data.evaluation ?? []) as DecisionCase[];
      const batches = (data.evaluations ?? []) as DecisionCase[];
      let matched = 0;
      let total = 0;
      const failures: string[] = [];
      for (const c of single) {
        total++;
        const res = await server.call('POST', '/access/v1/evaluation', { body: c.request });
        if (res.status === 200 && res.body.decision === c.expected) matched++;
        else failures.push(`${JSON.stringify(c.request)} → ${res.status} ${JSON.stringify(res.body)}`);
      }
      for (const c of batches) {
        const res = await server.call('POST', '/access/v1/evaluations', { body: c.request });
        const got = (res.body?.evaluations ?? []) as { decision: boolean }[];
        (c.expected as { decision: boolean }[]).forEach((e, i) => {
          total++;
          if (res.status === 200 && got[i]?.decision === e.decision) matched++;
          else failures.push(`batch item ${i} of ${JSON.stringify(c.request)} → ${JSON.stringify(got[i])}`);
        });
      }
      console.log(`[authzen] ${file}: ${matched}/${total} decisions match`);
      assert.deepEqual(failures, []);
      assert.equal(matched, total);
    });
  }

  const searchFiles = [
    ['search-subject-results.json', 'subject'],
    ['search-resource-results.json', 'resource'],
    ['search-action-results.json', 'action'],
  ] as const;
  for (const [file, kind] of searchFiles) {
    void it(`${file}: every search result set matches`, async () => {
      const cases = fixture(file).evaluation as DecisionCase[];
      let matched = 0;
      const failures: string[] = [];
      for (const c of cases) {
        const res = await server.call('POST', `/access/v1/search/${kind}`, { body: c.request });
        const got = ((res.body?.results ?? []) as Record<string, string>[]).map(key).sort();
        const want = (c.expected.results as Record<string, string>[]).map(key).sort();
        if (res.status === 200 && JSON.stringify(got) === JSON.stringify(want)) matched++;
        else
          failures.push(
            `${JSON.stringify(c.request)} → ${res.status} ${JSON.stringify(got)} want ${JSON.stringify(want)}`,
          );
      }
      console.log(`[authzen] ${file}: ${matched}/${cases.length} searches match`);
      assert.deepEqual(failures, []);
    });
  }
});
