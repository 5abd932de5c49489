/**
 * An HTTP request to a test server with a Host header of our choosing (fetch will not send one), to show the
 * server never builds its own URLs from it.
 */
import { request } from 'node:http';

export function requestWithHost(
  serverUrl: string,
  method: 'GET' | 'POST',
  path: string,
  host: string,
  body = '',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const target = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path,
        method,
        headers: { ...headers, host, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
