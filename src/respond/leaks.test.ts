import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isBulkheadError } from '../errors.js';
import { parseLeakReport } from './leaks.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('leak report parsing', () => {
  it('reads gitleaks findings without keeping the secret', () => {
    const [f] = parseLeakReport(
      [
        {
          RuleID: 'generic-api-key',
          Secret: 'topsecret-value-1234',
          File: 'app/.env',
          StartLine: 7,
          Commit: '0123456789abcdef',
          Date: '2026-01-02T03:04:05Z',
        },
      ],
      'auto',
    );
    assert.equal(f?.scanner, 'gitleaks');
    assert.equal(f?.location, 'app/.env:7 @ 0123456789ab');
    assert.equal(f?.exposedAt, '2026-01-02T03:04:05.000Z');
    assert.ok(f?.fingerprints.includes(`sha256:${sha('topsecret-value-1234')}`));
    assert.ok(f?.fingerprints.includes(`sha256:${sha('topsecret-value-1234').slice(0, 32)}`));
    assert.ok(!JSON.stringify(f).includes('topsecret-value-1234'));
  });

  it('reads trufflehog JSON lines and matches AWS key ids as identifiers', () => {
    const line = JSON.stringify({
      SourceMetadata: {
        Data: {
          Git: { commit: 'fedcba9876543210', file: 'deploy.sh', timestamp: '2026-02-01 10:00:00 +0000' },
        },
      },
      DetectorName: 'AWS',
      Verified: true,
      Raw: 'AKIAABCDEFGHIJKLMNOP',
      RawV2: 'AKIAABCDEFGHIJKLMNOPsecretpart',
    });
    const [f] = parseLeakReport(`${line}\n\n`, 'trufflehog');
    assert.equal(f?.scanner, 'trufflehog');
    assert.equal(f?.rule, 'AWS');
    assert.equal(f?.verified, true);
    assert.equal(f?.location, 'deploy.sh @ fedcba987654');
    assert.ok(f?.fingerprints.includes('AKIAABCDEFGHIJKLMNOP'));
  });

  it('refuses what is not a report, naming the finding', () => {
    const code = (input: unknown, format: 'auto' | 'gitleaks' = 'auto') => {
      try {
        parseLeakReport(input, format);
      } catch (err) {
        assert.ok(isBulkheadError(err));
        return { code: err.code, field: err.field };
      }
      return undefined;
    };
    assert.deepEqual(code(42), { code: 'BULKHEAD_RESPOND_LEAK_REPORT_INVALID', field: 'body' });
    assert.deepEqual(code([{ foo: 1 }]), { code: 'BULKHEAD_RESPOND_LEAK_REPORT_INVALID', field: 'body[0]' });
    assert.deepEqual(code([{ RuleID: 'x' }], 'gitleaks'), {
      code: 'BULKHEAD_RESPOND_LEAK_REPORT_INVALID',
      field: 'body[0].Secret',
    });
    assert.equal(code('{not json\n')?.field, 'body[0]');
    assert.equal(code([null])?.field, 'body[0]');
    assert.deepEqual(parseLeakReport([], 'auto'), []);
  });
});
