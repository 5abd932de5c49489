/** Claim lookup and mapping rules shared by every proof kind. */

/**
 * Reads a claim by dotted path, trying every split so keys that contain dots themselves work
 * (`kubernetes.io.namespace` finds `{"kubernetes.io": {"namespace": ...}}`).
 */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  for (let i = path.indexOf('.'); i > 0; i = path.indexOf('.', i + 1)) {
    const head = path.slice(0, i);
    const next = claims[head];
    if (Object.hasOwn(claims, head) && next !== null && typeof next === 'object' && !Array.isArray(next)) {
      const found = claimAt(next as Record<string, unknown>, path.slice(i + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** `*` matches any run of characters; everything else is literal. */
export function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

export interface MappingRule {
  match: Record<string, string>;
  identity: string;
}

/** The identity of the first rule whose every claim matches, or undefined. */
export function mapClaims(
  rules: readonly MappingRule[],
  claims: Record<string, unknown>,
): string | undefined {
  for (const rule of rules) {
    const ok = Object.entries(rule.match).every(([path, pattern]) => {
      const v = claimAt(claims, path);
      return typeof v === 'string' && globMatches(pattern, v);
    });
    if (ok) return rule.identity;
  }
  return undefined;
}
