/**
 * The `via` text of a `has_permission` edge written by importers: `<action>, <action> (<policy source>)`.
 * One format, written and read here, so posture can compare granted actions with used ones.
 */
const MAX_LISTED = 25;

export function formatGrantVia(actions: readonly string[], source: string): string {
  const listed = actions.slice(0, MAX_LISTED).join(', ');
  const more = actions.length > MAX_LISTED ? ` +${actions.length - MAX_LISTED} more` : '';
  return `${listed}${more} (${source})`;
}

/** Actions named by a grant's `via` (complete unless `truncated`). */
export function parseGrantVia(via: string): { actions: string[]; truncated: boolean } {
  const m = /^(.*?)( \+\d+ more)? \(([^()]*)\)$/.exec(via);
  const list = (m?.[1] ?? via).split(', ').filter((a) => a.length > 0 && !a.includes(' '));
  return { actions: list, truncated: m?.[2] !== undefined };
}
