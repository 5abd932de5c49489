import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { createLogger } from './logger.js';
import { quietChildLogger } from './route.js';

function capture(level = 'info'): { lines: Record<string, unknown>[]; log: FastifyBaseLogger } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { lines, log: createLogger(level, sink) };
}

void describe('quiet route logger', () => {
  void it('drops info and below; logs warn, error and fatal with the request id, arguments as given', () => {
    const { lines, log } = capture();
    const quiet = quietChildLogger(log, { reqId: 'req-1' });
    quiet.trace('t');
    quiet.debug('d');
    quiet.info({ a: 1 }, 'i');
    assert.equal(lines.length, 0);
    quiet.warn({ a: 1 }, 'careful');
    quiet.error('failed %s', 'twice');
    quiet.fatal(new Error('boom'));
    assert.deepEqual(
      lines.map((l) => [l.level, l.reqId, l.msg]),
      [
        [40, 'req-1', 'careful'],
        [50, 'req-1', 'failed twice'],
        [60, 'req-1', 'boom'],
      ],
    );
    assert.equal(lines[0]?.a, 1);
  });

  void it('gives children the same quiet level unless they ask for one', () => {
    const { lines, log } = capture();
    const quiet = quietChildLogger(log, { reqId: 'req-2' });
    quiet.child({ part: 'x' }).info('dropped');
    assert.equal(lines.length, 0);
    quiet.child({ part: 'y' }).warn('kept');
    quiet.child({ part: 'z' }, { level: 'info' }).info('asked for');
    assert.deepEqual(
      lines.map((l) => [l.reqId, l.part, l.msg]),
      [
        ['req-2', 'y', 'kept'],
        ['req-2', 'z', 'asked for'],
      ],
    );
  });

  void it('never logs more than a server set quieter than warn', () => {
    const { lines, log } = capture('error');
    const quiet = quietChildLogger(log, { reqId: 'req-3' });
    assert.equal(quiet.level, 'error');
    quiet.warn('dropped');
    quiet.child({ part: 'x' }).warn('dropped too');
    quiet.error('kept');
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['kept'],
    );
  });
});
