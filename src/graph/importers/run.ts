/**
 * One entry point for every import kind: build the plan (pure), apply it (one transaction), then tell the
 * rest of the process — inventory listeners hear each changed record, the graph reloads the changed origins.
 */
import type { AppContext } from '../../app-context.js';
import type { InventoryChange } from '../../inventory/service.js';
import type { Resource } from '../../inventory/types.js';
import { graphError } from '../errors.js';
import type { GraphService } from '../service.js';
import { buildAwsIamPlan } from './aws-iam/analyze.js';
import { buildK8sRbacPlan } from './k8s-rbac/analyze.js';
import { buildYamlPlan } from './yaml/plan.js';
import { applyImportPlan, type ImportMeta, type ImportReport } from './apply.js';
import { applyLeakReport, type LeakReport } from './leaks.js';
import type { ImportPlan } from './plan.js';

export const IMPORT_KINDS = ['aws-iam', 'k8s-rbac', 'yaml', 'leaks'] as const;

export interface PlanContext {
  existingResources: readonly Resource[];
  /** Kubernetes cluster name (the export does not carry it). */
  cluster?: string;
  onProgress?: (done: number, total: number) => void;
}

export function buildPlan(kind: string, doc: unknown, pctx: PlanContext): ImportPlan {
  switch (kind) {
    case 'aws-iam':
      return buildAwsIamPlan(doc, pctx);
    case 'yaml':
      return buildYamlPlan(doc);
    case 'k8s-rbac':
      return buildK8sRbacPlan(doc, { ...(pctx.cluster ? { cluster: pctx.cluster } : {}) });
    default:
      throw graphError(
        'IMPORT_UNKNOWN_KIND',
        `unknown import kind '${kind}' (known: ${IMPORT_KINDS.join(', ')})`,
        {
          field: 'params.kind',
        },
      );
  }
}

async function allResources(ctx: AppContext): Promise<Resource[]> {
  const out: Resource[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.inventory.listResources({ limit: 500, cursor });
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * The import writes through the store layer in one transaction (all or nothing), then tells the inventory's
 * listeners (graph, policy entity index, caches) what changed.
 */
function announce(ctx: AppContext, changes: InventoryChange[]): void {
  ctx.inventory.notifyChanges(changes);
}

export async function runImport(
  ctx: AppContext,
  graph: GraphService,
  kind: string,
  doc: unknown,
  meta: ImportMeta,
  options: { cluster?: string } = {},
): Promise<ImportReport> {
  const plan = buildPlan(kind, doc, { existingResources: await allResources(ctx), ...options });
  const outcome = await applyImportPlan(ctx.db, ctx.audit, ctx.now, plan, meta);
  graph.withUpdatesPaused(() => announce(ctx, outcome.changes));
  await graph.refreshAfterImport(outcome.changes, outcome.origins);
  return outcome.report;
}

/** `leaks`: a gitleaks / trufflehog report marks matching credentials as leaked (see leaks.ts). */
export async function runLeakImport(ctx: AppContext, doc: unknown, meta: ImportMeta): Promise<LeakReport> {
  const { report, changes } = await applyLeakReport(ctx.db, ctx.audit, ctx.now, doc, meta);
  announce(ctx, changes);
  return report;
}
