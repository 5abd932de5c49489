import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detect, identity, rules, T0 } from '../../../test/detect/helpers.js';

const inventory = {
  identities: [
    identity({
      id: 'agent-support-bot',
      kind: 'ai_agent',
      labels: { tools: 'crm.read,tickets.write,refunds.create' },
    }),
    identity({ id: 'agent-finops', kind: 'ai_agent', labels: { tools: 'warehouse.*,sheets.write' } }),
  ],
  credentials: [],
};

function call(identityId: string, action: string, i: number, outcome = 'allow') {
  return {
    id: `agent-${i}`,
    time: new Date(T0 + i * 1000).toISOString(),
    type: 'decision',
    source: 'policy',
    identityId,
    action,
    outcome,
  };
}

describe('agent-tool-escalation', () => {
  it('alerts when an agent calls a tool it never declared', () => {
    const alerts = detect(
      [call('agent-support-bot', 'crm.read', 1), call('agent-support-bot', 'iam.create_key', 2)],
      { inventory },
    );
    assert.deepEqual(rules(alerts), ['agent-tool-escalation']);
    assert.deepEqual(alerts[0]?.techniques, ['T1078', 'T1548']);
    assert.deepEqual(alerts[0]?.event_ids, ['agent-2']);
    assert.equal(alerts[0]?.severity, 'high');
  });

  it('alerts when an agent collects refusals on different actions (step-by-step escalation)', () => {
    const alerts = detect(
      [
        call('agent-finops', 'warehouse.query', 1),
        call('agent-finops', 'warehouse.admin', 2, 'deny'),
        call('agent-finops', 'warehouse.grant', 3, 'deny'),
        call('agent-finops', 'warehouse.export_all', 4, 'deny'),
      ],
      { inventory },
    );
    assert.deepEqual(rules(alerts), ['agent-tool-escalation']);
    assert.match(alerts[0]?.title ?? '', /probing/);
    assert.equal(alerts[0]?.event_ids.length, 3);
  });

  it('stays silent for declared tools and wildcard matches', () => {
    const alerts = detect(
      [
        call('agent-support-bot', 'crm.read', 1),
        call('agent-support-bot', 'tickets.write', 2),
        call('agent-support-bot', 'refunds.create', 3),
        call('agent-finops', 'warehouse.query', 4),
        call('agent-finops', 'sheets.write', 5),
      ],
      { inventory },
    );
    assert.deepEqual(alerts, []);
  });
});
