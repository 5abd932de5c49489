/**
 * Playbooks: declarative YAML, validated with the line of every mistake, versioned by the store. A playbook
 * matches alerts (rule, severity, tier) and lists steps; how automatically a step runs is decided per tier
 * (`escalation`), so the same playbook contains a T0 at once and waits for a human on a T3.
 */
import { createHash } from 'node:crypto';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { SEVERITIES, type Severity } from '../detect/alert.js';
import { respondError } from './errors.js';
import { TIERS, type Tier } from './tiers.js';

export const STEP_ACTIONS = [
  'revoke_tokens',
  'revoke_credential',
  'quarantine_identity',
  'rotate_credential',
  'disable_task',
  'notify',
  'open_incident',
  'require_approval',
  'verify_contained',
  'isolate_integration',
  'narrow_permissions',
  'rollback_policy',
] as const;
export type StepAction = (typeof STEP_ACTIONS)[number];

/** `auto`: run at once; `approval`: a human approves first; `notify_only`: record and page, change nothing. */
export const ESCALATIONS = ['auto', 'approval', 'notify_only'] as const;
export type Escalation = (typeof ESCALATIONS)[number];

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

const stepSchema = z.strictObject({
  id: z.string().regex(ID, 'lower-case letters, digits and dashes').optional(),
  action: z.enum(STEP_ACTIONS),
  /** Only on these tiers (default: every tier). */
  tiers: z.array(z.enum(TIERS)).min(1).optional(),
  /** Overrides the tier escalation for this step. */
  approval: z.enum(['tier', 'required', 'never']).default('tier'),
  retries: z.number().int().min(0).max(10).default(3),
  with: z.record(z.string(), z.unknown()).default({}),
});

const escalationSchema = z.strictObject({
  T0: z.enum(ESCALATIONS).default('auto'),
  T1: z.enum(ESCALATIONS).default('auto'),
  T2: z.enum(ESCALATIONS).default('approval'),
  T3: z.enum(ESCALATIONS).default('approval'),
});

export const playbookSchema = z.strictObject({
  apiVersion: z.literal('bulkhead/v1'),
  kind: z.literal('Playbook'),
  id: z.string().regex(ID, 'lower-case letters, digits and dashes'),
  description: z.string().max(2000).default(''),
  /** `dry_run`: runs record what they would do and change nothing (the default for a new playbook). */
  mode: z.enum(['dry_run', 'enforce']).default('dry_run'),
  /** Lower runs first when several playbooks match an alert. */
  priority: z.number().int().min(0).max(1000).default(100),
  match: z.strictObject({
    rules: z.array(z.string().min(1).max(100)).min(1).optional(),
    min_severity: z.enum(SEVERITIES).default('low'),
    tiers: z.array(z.enum(TIERS)).min(1).optional(),
  }),
  escalation: escalationSchema.default({ T0: 'auto', T1: 'auto', T2: 'approval', T3: 'approval' }),
  steps: z.array(stepSchema).min(1).max(50),
});

export type PlaybookStep = z.infer<typeof stepSchema> & { id: string };
export type Playbook = Omit<z.infer<typeof playbookSchema>, 'steps'> & { steps: PlaybookStep[] };

export interface PlaybookProblem {
  path: string;
  line: number | null;
  column: number | null;
  message: string;
}

export interface ParsedPlaybook {
  playbook: Playbook;
  sha256: string;
  yaml: string;
}

const MAX_YAML_BYTES = 256 * 1024;

/**
 * Parses and validates playbook YAML; throws `BULKHEAD_RESPOND_PLAYBOOK_INVALID` with every problem and its
 * line (`extra.problems`).
 * @example const { playbook } = parsePlaybook(readFileSync('leaked-key.yaml', 'utf8'));
 */
export function parsePlaybook(text: string, field = 'body.yaml'): ParsedPlaybook {
  const fail = (problems: PlaybookProblem[]): never => {
    const first = problems[0];
    const where = first?.line ? ` (line ${first.line})` : '';
    throw respondError(
      'RESPOND_PLAYBOOK_INVALID',
      `${first?.path ? `${first.path}: ` : ''}${first?.message ?? 'invalid'}${where}`,
      {
        field,
        extra: { problems },
      },
    );
  };
  if (Buffer.byteLength(text, 'utf8') > MAX_YAML_BYTES) {
    fail([
      { path: '', line: null, column: null, message: `playbook is larger than ${MAX_YAML_BYTES} bytes` },
    ]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { path: '', line: pos.line, column: pos.col, message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    // An alias bomb (over `maxAliasCount`) or an alias without its anchor: a bad document, not a server error.
    const message = err instanceof Error ? err.message : String(err);
    return fail([{ path: '', line: null, column: null, message }]);
  }
  const parsed = playbookSchema.safeParse(value);
  if (!parsed.success) {
    fail(
      parsed.error.issues.map((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        // The deepest node that exists: a missing key points at its parent mapping.
        let node: unknown;
        for (let n = path.length; n >= 0 && !isNode(node); n--) node = doc.getIn(path.slice(0, n), true);
        const range = isNode(node) ? node.range : undefined;
        const pos = range ? lc.linePos(range[0]) : undefined;
        return {
          path: path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
            .join('')
            .replace(/^\./, ''),
          line: pos?.line ?? null,
          column: pos?.col ?? null,
          message: issue.message,
        };
      }),
    );
  }
  const data = parsed.data!;
  const ids = new Set<string>();
  const steps: PlaybookStep[] = [];
  const problems: PlaybookProblem[] = [];
  data.steps.forEach((s, i) => {
    const id = s.id ?? `${i + 1}-${s.action.replace(/_/g, '-')}`;
    if (ids.has(id)) {
      const node = doc.getIn(['steps', i, 'id'], true);
      const pos = isNode(node) && node.range ? lc.linePos(node.range[0]) : undefined;
      problems.push({
        path: `steps[${i}].id`,
        line: pos?.line ?? null,
        column: pos?.col ?? null,
        message: `duplicate step id ${id}`,
      });
    }
    ids.add(id);
    steps.push({ ...s, id });
  });
  if (problems.length > 0) fail(problems);
  return {
    playbook: { ...data, steps },
    sha256: createHash('sha256').update(text).digest('hex'),
    yaml: text,
  };
}

export interface AlertFacts {
  ruleId: string;
  severity: Severity;
  tier: Tier;
}

export function playbookMatches(p: Playbook, a: AlertFacts): boolean {
  if (p.match.rules && !p.match.rules.includes(a.ruleId) && !p.match.rules.includes('*')) return false;
  if (SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(p.match.min_severity)) return false;
  if (p.match.tiers && !p.match.tiers.includes(a.tier)) return false;
  return true;
}

/** How a step runs on a tier, before dependency checks. */
export function stepEscalation(p: Playbook, step: PlaybookStep, tier: Tier): Escalation {
  if (step.approval === 'required') return 'approval';
  if (step.approval === 'never') return 'auto';
  return p.escalation[tier];
}
