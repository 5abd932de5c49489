import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { signWebhook, WebhookNotifier } from '../../src/respond/notifier.js';
import { startRespondServer, type RespondServer } from './helpers.js';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('break-glass use and signed notifications', () => {
  let s: RespondServer;
  let hook: Server;
  const received: Received[] = [];
  let clock = Date.parse('2026-06-01T10:00:00Z');
  const SECRET = 'webhook-shared-secret';

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const now = () => new Date(clock);
    s = await startRespondServer(
      { notifier: new WebhookNotifier([{ url, secret: SECRET }], now) },
      false,
      now,
    );
  });
  after(async () => {
    await s.server.stop();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { BULKHEAD_URL: s.server.url, BULKHEAD_TOKEN: s.server.token },
    });
    return { code, stdout, stderr };
  }

  it('requires a justification and a break-glass account', async () => {
    const short = await s.server.call('POST', '/v1/break-glass/breakglass-root/use', {
      body: { justification: 'because' },
    });
    assert.equal(short.status, 400);
    assert.equal(short.body.code, 'BULKHEAD_RESPOND_JUSTIFICATION_REQUIRED');
    assert.equal(short.body.field, 'body.justification');
    const notBg = await s.server.call('POST', '/v1/break-glass/payments-api/use', {
      body: { justification: 'production database is down, need superuser' },
    });
    assert.equal(notBg.body.code, 'BULKHEAD_RESPOND_NOT_BREAK_GLASS');
    const tooLong = await s.server.call('POST', '/v1/break-glass/breakglass-root/use', {
      body: { justification: 'production database is down, need superuser', ttl_minutes: 600 },
    });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.field, 'body.ttl_minutes');
  });

  it('unseals for a short TTL, pages the owners with a signed webhook, opens an incident, seals again', async () => {
    const use = await cli([
      'break-glass',
      'use',
      'breakglass-db',
      '--justification',
      'ledger-db replication broken, INC-1234',
      '--ttl-minutes',
      '15',
      '--json',
    ]);
    assert.equal(use.code, 0, use.stderr);
    const session = JSON.parse(use.stdout);
    assert.equal(session.expiresAt, new Date(clock + 15 * 60_000).toISOString());
    assert.ok(session.incidentId);
    assert.equal((await s.server.call('GET', '/v1/identities/breakglass-db')).body.status, 'active');

    const inc = await s.server.call('GET', `/v1/incidents/${session.incidentId}`);
    assert.equal(inc.body.tier, 'T0');
    assert.ok(inc.body.title.includes('ledger-db replication broken'));

    const page = received.find((r) => JSON.parse(r.body).incidentId === session.incidentId);
    assert.ok(page, 'owners were paged');
    const payload = JSON.parse(page.body);
    assert.deepEqual(payload.owners, ['frank', 'judy']);
    const ts = String(page.headers['x-bulkhead-timestamp']);
    assert.equal(page.headers['x-bulkhead-signature'], signWebhook(SECRET, ts, page.body));
    assert.match(String(page.headers['idempotency-key']), /^run-[0-9a-f]+:page$/);

    clock += 16 * 60_000;
    assert.equal(await s.respond.service().breakGlass.endExpired({ actor: 'test' }), 1);
    assert.equal((await s.server.call('GET', '/v1/identities/breakglass-db')).body.status, 'disabled');
    const d = await s.policy
      .runtime()
      .pdp.decide({ principal: { id: 'breakglass-db' }, action: 'read', resource: { id: 'x' } });
    assert.equal(d.decision, false);
  });

  it('every unseal pages the owners, also one that joins the incident of an earlier use', async () => {
    const use = (justification: string) =>
      s.server.call('POST', '/v1/break-glass/breakglass-root/use', {
        body: { justification, ttl_minutes: 10 },
      });
    const first = await use('prod db outage INC-1 needs root access');
    assert.equal(first.status, 200);
    assert.equal((await s.server.call('POST', `/v1/break-glass/sessions/${first.body.id}/end`)).status, 200);
    const second = await use('unrelated: rotating KMS key material now');
    assert.equal(second.status, 200);
    assert.equal(second.body.incidentId, first.body.incidentId);
    await s.respond.service().idle();
    const pages = received
      .map((r) => JSON.parse(r.body) as { incidentId: string; title: string })
      .filter((p) => p.incidentId === first.body.incidentId);
    assert.equal(pages.length, 2);
    assert.match(pages[1]!.title, /rotating KMS key material/);
  });

  it('CLI: tier, incidents list/show and leaks import print JSON and set exit codes', async () => {
    const tier = await cli(['tier', 'shared-ops', '--json']);
    assert.equal(tier.code, 0);
    assert.equal(JSON.parse(tier.stdout).tier, 'T0');
    const human = await cli(['tier', '--tier', 'T0']);
    assert.match(human.stdout, /breakglass-root/);
    const bad = await cli(['tier', '--tier', 'T7']);
    assert.notEqual(bad.code, 0);
    const list = await cli(['incidents', 'list', '--json']);
    assert.equal(list.code, 0);
    const items = JSON.parse(list.stdout) as { id: string }[];
    assert.ok(items.length >= 1);
    const show = await cli(['incidents', 'show', items[0]!.id]);
    assert.match(show.stdout, /timeline:/);
    const missing = await cli(['leaks', 'import', '/nonexistent/report.json']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /cannot read/);
  });
});
