/**
 * The server's pino logger. Secrets never reach a log line: credential-bearing headers and body fields are
 * redacted by path, and token-like query parameters are masked in logged URLs.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

const SECRET_QUERY =
  /([?&](?:token|access_token|refresh_token|id_token|assertion|client_assertion|client_secret|subject_token|actor_token|code)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]');
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.client_assertion',
  '*.subject_token',
  '*.actor_token',
  '*.password',
  '*.adminToken',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req(req: { id?: string; method?: string; url?: string; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip };
      },
    },
  };
  return destination ? pino(options, destination as DestinationStream) : pino(options);
}
