import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCedarContext, contextKey, wallClock } from './request-context.js';

const now = new Date('2026-11-25T21:30:00Z');

void describe('buildCedarContext', () => {
  void it('derives time of day and auth age; drops unknown keys; caller cannot set derived ones', () => {
    const r = buildCedarContext(
      { auth_time: now.getTime() / 1000 - 600, hour: 3, approved: true, x_header: 'abc', risk_score: 7 },
      now,
      false,
    );
    assert.ok(r.ok);
    assert.equal(r.context.hour, 21);
    assert.equal(r.context.weekday, 3);
    assert.equal(r.context.approved, false);
    assert.equal(r.context.auth_age_minutes, 10);
    assert.equal(r.context.risk_score, 7);
    assert.equal('x_header' in r.context, false);
    assert.deepEqual([...r.supplied].sort(), ['auth_time', 'risk_score']);
  });

  void it('gives the same key whatever the key order, a different one when a value changes', () => {
    const a = buildCedarContext({ risk_score: 1, task_id: 't' }, now, false);
    const b = buildCedarContext({ task_id: 't', risk_score: 1, unknown: 1 }, now, false);
    const c = buildCedarContext({ task_id: 't', risk_score: 2 }, now, false);
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(contextKey(a.keyParts), contextKey(b.keyParts));
    assert.notEqual(contextKey(a.keyParts), contextKey(c.keyParts));
  });

  void it('gives different keys to different contexts even when a value imitates the separators', () => {
    const contexts: Record<string, unknown>[] = [
      { task_id: 'x', risk_score: 5 },
      { task_id: 'x|risk_score|5' },
      { task_id: 'x"|risk_score|5' },
      { task_id: 'x', justification: 'risk_score|5' },
      { acr: 'x', task_id: 'x' },
      { acr: 'x|task_id|"x"' },
      { acr: 'x|task_id|1|x' },
      { acr: '1|x' },
      { mfa: true },
      { mfa: false },
      { risk_score: 1 },
      { amr: ['a|b'] },
      { amr: ['a', 'b'] },
      { auth_time: 1_700_000_000 },
      {},
      { own: 1, __proto__: { risk_score: 5 } },
    ];
    const keys = contexts.map((c) => {
      const r = buildCedarContext(c, now, false);
      assert.ok(r.ok, JSON.stringify(c));
      return contextKey(r.keyParts);
    });
    assert.equal(
      new Set(keys).size,
      keys.length - 1,
      'only the last two (no known own attribute) share a key',
    );
    assert.equal(keys.at(-1), keys.at(-2), 'inherited attributes are ignored');
    const approved = buildCedarContext({}, now, true);
    assert.ok(approved.ok);
    assert.notEqual(contextKey(approved.keyParts), keys.at(-2), 'approval is part of the key');
  });

  void it('rejects wrongly typed known attributes with the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ risk_score: 1.5 }, 'context.risk_score'],
      [{ source_ip: '10.0.0.300' }, 'context.source_ip'],
      [{ amr: ['pwd', 1] }, 'context.amr'],
      [{ mfa: 'yes' }, 'context.mfa'],
      [{ auth_time: 'yesterday' }, 'context.auth_time'],
    ];
    for (const [raw, field] of cases) {
      const r = buildCedarContext(raw, now, false);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.field, field);
    }
    const ip = buildCedarContext({ source_ip: '2001:db8::1' }, now, false);
    assert.ok(ip.ok);
    assert.deepEqual(ip.context.source_ip, { __extn: { fn: 'ip', arg: '2001:db8::1' } });
  });

  void it('refuses an auth_time in the future (beyond clock skew) or in milliseconds, and a time without a zone', () => {
    const secs = now.getTime() / 1000;
    const ok = (raw: Record<string, unknown>) => {
      const r = buildCedarContext(raw, now, false);
      assert.ok(r.ok, JSON.stringify(raw));
      return r.context.auth_age_minutes;
    };
    const refused = (raw: Record<string, unknown>, message: RegExp) => {
      const r = buildCedarContext(raw, now, false);
      assert.equal(r.ok, false, JSON.stringify(raw));
      if (!r.ok) {
        assert.equal(r.field, 'context.auth_time');
        assert.match(r.message, message);
      }
    };
    assert.equal(ok({ auth_time: secs + 60 }), 0, 'a minute of clock skew is tolerated');
    refused({ auth_time: secs + 61 }, /future.*seconds since the epoch \(not milliseconds\)/);
    refused({ auth_time: secs + 365 * 86_400 }, /future/);
    refused({ auth_time: now.getTime() }, /not milliseconds/);
    refused({ auth_time: '2026-11-25T21:35:00Z' }, /future/);
    // Without a zone the time would be read in the server's local zone.
    refused({ auth_time: '2026-11-25T21:20:00' }, /with a zone/);
    refused({ auth_time: '2026-11-25' }, /with a zone/);
    assert.equal(ok({ auth_time: '2026-11-25T21:20:00Z' }), 10);
    assert.equal(ok({ auth_time: '2026-11-25T22:20:00+01:00' }), 10);
    assert.equal(ok({ auth_time: '2026-11-25T21:20:30.500z' }), 9);
  });

  void it('treats a blank justification as absent', () => {
    for (const justification of ['', ' \t\n']) {
      const r = buildCedarContext({ justification }, now, false);
      assert.ok(r.ok);
      assert.equal('justification' in r.context, false);
      assert.equal(r.supplied.has('justification'), false);
    }
    const given = buildCedarContext({ justification: ' INC-42 ' }, now, false);
    assert.ok(given.ok);
    assert.equal(given.context.justification, ' INC-42 ');
  });

  void it('reads hour and weekday in an IANA time zone, daylight saving and half-hour offsets included', () => {
    const ny = wallClock('America/New_York');
    assert.deepEqual(ny(new Date('2026-06-01T03:00:00Z')), { hour: 23, weekday: 0 }); // EDT: Sunday 23:00
    assert.deepEqual(ny(new Date('2026-01-15T03:00:00Z')), { hour: 22, weekday: 3 }); // EST: Wednesday 22:00
    assert.deepEqual(wallClock('Asia/Kolkata')(new Date('2026-06-01T20:45:00Z')), { hour: 2, weekday: 2 });
    const r = buildCedarContext({}, new Date('2026-06-01T03:00:00Z'), false, 'context', ny);
    assert.ok(r.ok);
    assert.equal(r.context.hour, 23);
    assert.equal(r.context.weekday, 0);
    assert.throws(() => wallClock('Not/AZone'), /unknown time zone "Not\/AZone"/);
  });
});
