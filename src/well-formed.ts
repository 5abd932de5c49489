/**
 * Unpaired UTF-16 surrogates (JSON `"\ud800"`) are not text: SQLite stores them as U+FFFD, so what was
 * hashed into the audit chain differs from what is read back (a false tamper alarm), and Cedar rejects them
 * mid-evaluation. JSON bodies (src/http/server.ts) and ingested event lines (src/detect/parse) are checked
 * once, at parse time, so no module ever sees one.
 */

/** In `u` mode a proper surrogate pair is one code point, so only an unpaired half is in category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;
/** A body can only carry a lone surrogate as a `\uD800`-`\uDFFF` escape: decoding bytes never yields one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

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
      if (LONE_SURROGATE.test(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return path;
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return undefined;
}
