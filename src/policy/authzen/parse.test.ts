import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthzenParseError } from './parse.js';
import { isBadItem, parseEvaluation, parseEvaluations } from './parse.js';

void describe('AuthZEN request parsing', () => {
  void it('reads legacy top-level members as properties; `properties` wins', () => {
    const e = parseEvaluation({
      subject: { type: 'user', id: 'a', identity: 'pid' },
      action: { name: 'read' },
      resource: { type: 'todo', id: '1', ownerID: 'old', properties: { ownerID: 'new' }, _note: 'x' },
    });
    assert.deepEqual(e.subject.properties, { identity: 'pid' });
    assert.deepEqual(e.resource.properties, { ownerID: 'new' });
  });

  void it('applies defaults per item and turns bad items into BadItem', () => {
    const b = parseEvaluations({
      subject: { type: 'user', id: 'a' },
      action: { name: 'read' },
      context: { risk_score: 1 },
      evaluations: [{ resource: { type: 't', id: '1' } }, { resource: { type: 't' } }, 'nope'],
    });
    assert.equal(b.single, false);
    assert.equal(b.semantic, 'execute_all');
    const [first, second, third] = b.items;
    assert.ok(first && !isBadItem(first));
    assert.deepEqual(first.context, { risk_score: 1 });
    assert.ok(second && isBadItem(second));
    assert.match(second.error, /evaluations\[1\]\.resource\.id/);
    assert.ok(third && isBadItem(third));
  });

  void it('throws with the field for whole-request errors', () => {
    assert.throws(
      () => parseEvaluations({ evaluations: {} }),
      (e: AuthzenParseError) => e.field === 'body.evaluations',
    );
    assert.throws(
      () => parseEvaluations({ subject: 5, evaluations: [{}] }),
      (e: AuthzenParseError) => e.field === 'body.subject',
    );
    assert.throws(
      () => parseEvaluation({ subject: { type: '', id: 'a' } }),
      (e: AuthzenParseError) => e.field === 'body.subject.type',
    );
  });
});
