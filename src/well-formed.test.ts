import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { illFormedPath, isWellFormed } from './well-formed.js';

const parsed = (raw: string) => illFormedPath(raw, JSON.parse(raw));

void describe('well-formed text', () => {
  void it('tells lone surrogates from pairs', () => {
    assert.equal(isWellFormed('plain'), true);
    assert.equal(isWellFormed('a😀b'), true);
    assert.equal(isWellFormed('a\ud800b'), false);
    assert.equal(isWellFormed('\udc00'), false);
    assert.equal(isWellFormed('\ude00\ud83d'), false, 'a pair in the wrong order is two lone halves');
  });

  void it('names the path of the first ill-formed string or key in a parsed body', () => {
    assert.equal(parsed('{"a":[1,{"b":"\\ud800"}]}'), 'body.a[1].b');
    assert.equal(parsed('{"a":{"\\udfff":1}}'), 'body.a');
    assert.equal(parsed('["x","\\ud83d\\ude00","\\ud83d"]'), 'body[2]');
    assert.equal(parsed('{"ok":"\\ud83d\\ude00","also":"\\u00e9"}'), undefined);
  });

  void it('walks nesting deeper than the call stack', () => {
    const depth = 200_000;
    assert.equal(parsed(`${'['.repeat(depth)}"\\udc00"${']'.repeat(depth)}`)?.endsWith('[0]'), true);
  });
});
