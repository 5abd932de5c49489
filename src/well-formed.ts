/**
 * Unpaired UTF-16 surrogates (JSON `"\ud800"`) are not text: SQLite stores them as U+FFFD, so what was
 * hashed into the audit chain differs from what is read back (a false tamper alarm), and Cedar rejects them
 * mid-evaluation (and too many such errors corrupt its Wasm instance, src/policy/input-limits.ts). JSON bodies
 * (src/http/server.ts) and ingested event lines (src/detect/parse) are checked once, at parse time; the PDP
 * checks again for in-process callers.
 */

/** A body can only carry a lone surrogate as a `\uD800`-`\uDFFF` escape: decoding bytes never yields one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** `String.prototype.isWellFormed` (Node 20; not yet in the TypeScript lib the project compiles against). */
export const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Where (`body.a[2].b`) the first string or key that is not well-formed UTF-16 sits in a value parsed from
 * `raw`, or undefined. Iterative: JSON.parse accepts nesting far deeper than the call stack.
 */
export function illFormedPath(raw: string, value: unknown, root = 'body'): string | undefined {
  if (!SURROGATE_ESCAPE.test(raw)) return undefined;
  const stack: [unknown, string][] = [[value, root]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, path] = next;
    if (typeof v === 'string') {
      if (!isWellFormed(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (!isWellFormed(k)) return path;
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return undefined;
}
