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

const SECRET_KEYS = [
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'client_assertion',
  'subject_token',
  'actor_token',
  'assertion',
  'password',
  'secret',
  'adminToken',
  'bootstrap_token',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  // Top-level and one level down: pino's redaction matches exact paths, not "anywhere".
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
];

/** Bulkhead API tokens (`bh_<id>_<secret>`) and JWTs, wherever they appear in a line (even in a message). */
const TOKEN_SHAPES =
  /\bbh_[A-Za-z0-9-]+_[A-Za-z0-9_-]{16,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

export function scrubTokens(line: string): string {
  return line.replace(TOKEN_SHAPES, '[REDACTED]');
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    // Last line of defence for what path-based redaction cannot know about (a token inside a message string).
    hooks: { streamWrite: scrubTokens },
    serializers: {
      req(req: { id?: string; method?: string; url?: string; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip };
      },
    },
  };
  return destination ? pino(options, destination as DestinationStream) : pino(options);
}
