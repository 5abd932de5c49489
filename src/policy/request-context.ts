/**
 * Turning a caller's context into the Cedar context. Known attributes are type-checked (a wrong type is
 * bad input, not a silent miss), PDP-derived ones (time of day, auth age, approval) are computed here and
 * cannot be supplied by the caller, and unknown keys are dropped so they cannot split the decision cache.
 */
import { isIP } from 'node:net';
import type { CedarValueJson, Context } from '@cedar-policy/cedar-wasm/nodejs';
import {
  ACTION_PROPERTIES_TYPE,
  CONTEXT_ATTRIBUTES,
  DERIVED_CONTEXT,
  SUBJECT_PROPERTIES_TYPE,
} from './cedar-schema.js';

export type ContextResult =
  | {
      ok: true;
      context: Context;
      supplied: Set<string>;
      /**
       * What the context contributes to a decision-cache key, unjoined: the PDP appends it to the request's
       * own parts and joins once (`contextKey` joins it alone).
       */
      keyParts: (string | number)[];
    }
  | { ok: false; field: string; message: string };

const DERIVED = new Set<string>(DERIVED_CONTEXT);
// Request-scoped entities carrying the PEP's subject/action properties (see cedar-schema.ts).
const SUBJECT_PROPERTIES_REF: CedarValueJson = { __entity: { type: SUBJECT_PROPERTIES_TYPE, id: 'request' } };
const ACTION_PROPERTIES_REF: CedarValueJson = { __entity: { type: ACTION_PROPERTIES_TYPE, id: 'request' } };

/** How far ahead of the PDP's clock an `auth_time` may be: clocks drift by seconds, not minutes. */
const AUTH_TIME_MAX_SKEW_SECONDS = 60;
/** ISO-8601 with its zone: without one, `Date.parse` would read the time in this server's local zone. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

function authTimeSeconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && ISO_WITH_ZONE.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  return undefined;
}

export interface WallClock {
  (now: Date): { hour: number; weekday: number };
}

const utcClock: WallClock = (now) => ({ hour: now.getUTCHours(), weekday: now.getUTCDay() });
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * The hour (0-23) and weekday (0 = Sunday) policies see, in an IANA time zone (daylight saving included).
 * Throws a RangeError naming the zone when it is unknown. Every zone's offset is a whole number of
 * minutes, so the answer is computed once a minute, not on every decision.
 */
export function wallClock(timeZone: string): WallClock {
  if (timeZone === 'UTC') return utcClock;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      hour: 'numeric',
      weekday: 'short',
    });
  } catch {
    throw new RangeError(`unknown time zone "${timeZone}" (use an IANA name such as Europe/Berlin)`);
  }
  let minute = NaN;
  let last = { hour: 0, weekday: 0 };
  return (now) => {
    const m = Math.floor(now.getTime() / 60_000);
    if (m === minute) return last;
    let hour = 0;
    let weekday = 0;
    for (const part of format.formatToParts(now)) {
      if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0;
    }
    minute = m;
    last = { hour, weekday };
    return last;
  };
}

function badContext(fieldPrefix: string, key: string, expected: string): ContextResult {
  return { ok: false, field: `${fieldPrefix}.${key}`, message: `must be ${expected}` };
}

/**
 * The attributes a caller may supply, in one fixed order: walking them (rather than the caller's keys) gives
 * the cache key a canonical order without sorting on every decision, and skips unknown keys for free.
 */
const SUPPLIABLE = Object.entries(CONTEXT_ATTRIBUTES).filter(([key]) => !DERIVED.has(key));

export function buildCedarContext(
  raw: Record<string, unknown>,
  now: Date,
  approved: boolean,
  fieldPrefix = 'context',
  clock: WallClock = utcClock,
): ContextResult {
  const out: Record<string, CedarValueJson> = {};
  const supplied = new Set<string>();
  // The key covers exactly what Cedar sees: the supplied attributes (plus the derived auth age) and the
  // time-of-day fields. Each string comes after its length, so no value can imitate a separator.
  const keyParts: (string | number)[] = [];
  for (const [key, attr] of SUPPLIABLE) {
    const value = raw[key];
    // Own properties only, as Object.keys would give (checked only for the few keys present).
    if (value === undefined || value === null || !Object.hasOwn(raw, key)) continue;
    switch (attr.type) {
      case 'String':
        if (typeof value !== 'string') return badContext(fieldPrefix, key, 'a string');
        // A blank justification justifies nothing: absent, so `context has justification` stays false.
        if (key === 'justification' && value.trim() === '') continue;
        out[key] = value;
        keyParts.push(key, value.length, value);
        break;
      case 'Long':
        if (key === 'auth_time') {
          const secs = authTimeSeconds(value);
          if (secs === undefined) {
            return badContext(
              fieldPrefix,
              key,
              'epoch seconds or an ISO-8601 time with a zone (Z or ±hh:mm)',
            );
          }
          const ageSeconds = now.getTime() / 1000 - secs;
          // A future auth_time would read as "just authenticated" and pass any step-up; a PEP sending
          // milliseconds (Date.now()) lands here too.
          if (ageSeconds < -AUTH_TIME_MAX_SKEW_SECONDS) {
            return {
              ok: false,
              field: `${fieldPrefix}.${key}`,
              message: `is in the future: it must be seconds since the epoch (not milliseconds), at most ${AUTH_TIME_MAX_SKEW_SECONDS} s ahead of the PDP's clock`,
            };
          }
          const age = Math.max(0, Math.floor(ageSeconds / 60));
          out.auth_time = secs;
          out.auth_age_minutes = age;
          keyParts.push(key, secs, 'auth_age_minutes', age);
          break;
        }
        if (typeof value !== 'number' || !Number.isSafeInteger(value))
          return badContext(fieldPrefix, key, 'an integer');
        out[key] = value;
        keyParts.push(key, value);
        break;
      case 'Boolean':
        if (typeof value !== 'boolean') return badContext(fieldPrefix, key, 'a boolean');
        out[key] = value;
        keyParts.push(key, value ? 1 : 0);
        break;
      case 'Set': {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
          return badContext(fieldPrefix, key, 'an array of strings');
        }
        const sorted = [...new Set(value)].sort();
        out[key] = sorted;
        const json = JSON.stringify(sorted);
        keyParts.push(key, json.length, json);
        break;
      }
      case 'Extension':
        if (typeof value !== 'string' || isIP(value) === 0)
          return badContext(fieldPrefix, key, 'an IPv4 or IPv6 address');
        out[key] = { __extn: { fn: 'ip', arg: value } };
        keyParts.push(key, value.length, value);
        break;
      default:
        continue;
    }
    supplied.add(key);
  }
  const { hour, weekday } = clock(now);
  out.subject_properties = SUBJECT_PROPERTIES_REF;
  out.action_properties = ACTION_PROPERTIES_REF;
  out.hour = hour;
  out.weekday = weekday;
  out.approved = approved;
  keyParts.push(hour, weekday, approved ? 1 : 0);
  return { ok: true, context: out, supplied, keyParts };
}

/**
 * Key parts as one string. Unambiguous: attribute names are fixed words, numbers have no separator, and a
 * string's length comes before it, so a reader always knows where each value ends. Joined rather than a
 * template literal: keys are kept by caches, and a flat string is a fraction of the memory of a template's
 * cons-string pieces.
 */
export function contextKey(keyParts: readonly (string | number)[]): string {
  return keyParts.join('|');
}
