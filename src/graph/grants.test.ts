import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatGrantVia, parseGrantVia } from './grants.js';

void describe('grant via text', () => {
  void it('round-trips the action list and marks truncation', () => {
    const via = formatGrantVia(['s3:GetObject', 's3:ListBucket'], 'managed:DevPolicy#Read');
    assert.equal(via, 's3:GetObject, s3:ListBucket (managed:DevPolicy#Read)');
    assert.deepEqual(parseGrantVia(via), { actions: ['s3:GetObject', 's3:ListBucket'], truncated: false });
    const many = Array.from({ length: 30 }, (_, i) => `svc:A${i}`);
    const parsed = parseGrantVia(formatGrantVia(many, 'inline:x'));
    assert.equal(parsed.actions.length, 25);
    assert.equal(parsed.truncated, true);
  });
});
