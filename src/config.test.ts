import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

void describe('config: BULKHEAD_PUBLIC_URL', () => {
  void it('defaults to unset (the server fills in the URL it listens on)', () => {
    assert.equal(loadConfig({}, {}).publicUrl, undefined);
  });

  void it('takes an absolute http(s) URL, without its trailing slash', () => {
    const at = (v: string) => loadConfig({}, { BULKHEAD_PUBLIC_URL: v }).publicUrl;
    assert.equal(at('https://bulkhead.example.com/'), 'https://bulkhead.example.com');
    assert.equal(at('http://10.0.0.5:8080/bulkhead/'), 'http://10.0.0.5:8080/bulkhead');
  });

  void it('refuses anything else with an error naming the setting', () => {
    for (const bad of [
      'bulkhead.example.com',
      '/oauth2',
      'ftp://bulkhead.example.com',
      'https://bulkhead.example.com/?x=1',
      'https://bulkhead.example.com/#top',
      'https://user:pw@bulkhead.example.com',
    ]) {
      assert.throws(
        () => loadConfig({}, { BULKHEAD_PUBLIC_URL: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith('BULKHEAD_PUBLIC_URL must'),
        bad,
      );
    }
  });
});
