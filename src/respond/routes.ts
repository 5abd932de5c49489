/**
 * HTTP: tiers, playbooks (versioned, dry-run), incidents (ack / resolve / approve a waiting step), leak
 * reports (gitleaks / trufflehog) and staged rotations.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasScope } from '../admin/api-keys.js';
import { SEVERITIES } from '../detect/alert.js';
import { coreError } from '../errors.js';
import { addRoute } from '../http/route.js';
import { ID_PATTERN } from '../inventory/types.js';
import { MAX_BREAK_GLASS_TTL_MINUTES } from './breakglass.js';
import { LEAK_FORMATS, parseLeakReport } from './leaks.js';
import type { RespondService } from './service.js';
import { INCIDENT_STATES } from './store.js';

/** The rule of a leak report; it makes an alert count as leaked (`RunFacts.leaked`). */
const LEAKED_RULE = 'leaked-secret';

const id = z.string().regex(ID_PATTERN, 'an id: letters, digits and ._@:+=~-');
const idParams = z.strictObject({ id });
const stepParams = z.strictObject({ id, step: z.string().min(1).max(100) });

const alertBody = z.strictObject({
  id: z.string().min(1).max(200),
  rule_id: z.string().min(1).max(100),
  severity: z.enum(SEVERITIES),
  title: z.string().min(1).max(500).optional(),
  identity_id: id.nullable().optional(),
  credential: z.string().min(1).max(512).nullable().optional(),
  first_seen: z.iso.datetime({ offset: true }).optional(),
  leaked: z.boolean().optional(),
  task_id: z.string().min(1).max(200).optional(),
});
type AlertBody = z.infer<typeof alertBody>;

function toAlert(b: AlertBody) {
  return {
    id: b.id,
    ruleId: b.rule_id,
    severity: b.severity,
    title: b.title ?? b.rule_id,
    identityId: b.identity_id ?? null,
    credential: b.credential ?? null,
    firstSeen: b.first_seen,
    leaked: b.leaked,
    taskId: b.task_id,
  };
}

function who(c: { actor?: { name: string } | undefined }): string {
  return c.actor?.name ?? 'anonymous';
}

export function registerRespondRoutes(app: FastifyInstance, service: () => RespondService): void {
  const tags = ['respond'];

  addRoute(app, {
    method: 'GET',
    url: '/v1/identities/:id/tier',
    summary: 'Crisis tier (T0-T3) of an identity, with the reasons',
    tags,
    scope: 'read',
    params: idParams,
    handler: async ({ params }) => service().tier(params.id),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/tiers',
    summary: 'Crisis tiers of identities, a page at a time in identity id order (cursor pagination)',
    tags,
    scope: 'read',
    query: z.strictObject({
      tier: z.enum(['T0', 'T1', 'T2', 'T3']).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(50),
      cursor: z.string().max(400).optional(),
    }),
    handler: async ({ query }) =>
      service().tiersPage({ only: query.tier, limit: query.limit, cursor: query.cursor }),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/playbooks',
    summary: 'Playbooks in use (latest version of each; built-ins have version 0)',
    tags,
    scope: 'read',
    handler: async () => ({
      items: service()
        .listPlaybooks()
        .map((p) => ({
          id: p.id,
          version: p.version,
          builtin: p.builtin,
          mode: p.playbook.mode,
          priority: p.playbook.priority,
          match: p.playbook.match,
          steps: p.playbook.steps.map((s) => s.action),
        })),
    }),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/playbooks/:id',
    summary: 'One playbook with its YAML',
    tags,
    scope: 'read',
    params: idParams,
    handler: async ({ params }) => service().getPlaybook(params.id),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/playbooks',
    summary: 'Store a new playbook version (YAML; validated, errors name the line)',
    tags,
    scope: 'admin',
    body: z.strictObject({
      yaml: z
        .string()
        .min(1)
        .max(256 * 1024),
    }),
    successStatus: 201,
    handler: async (c) => {
      c.reply.code(201);
      return service().putPlaybook(c.body.yaml, who(c), c.requestId);
    },
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/playbooks/dry-run',
    summary: 'What the matching (or named) playbook would do for an alert; changes nothing',
    tags,
    scope: 'read',
    body: z.strictObject({ alert: alertBody, playbook: id.optional() }),
    handler: async ({ body }) => service().dryRun(toAlert(body.alert), body.playbook),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/incidents',
    summary: 'Incidents, newest first',
    tags,
    scope: 'read',
    query: z.strictObject({
      state: z.enum(INCIDENT_STATES).optional(),
      identity_id: id.optional(),
      limit: z.coerce.number().int().min(1).max(500).default(50),
    }),
    handler: async ({ query }) => ({
      items: await service().listIncidents({
        state: query.state,
        identityId: query.identity_id,
        limit: query.limit,
      }),
    }),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/incidents',
    summary: 'Hand an alert to containment (as detection does on the bus); returns its incident',
    tags,
    scope: 'write',
    body: alertBody,
    handler: async ({ actor, body }) => {
      // A leak is revoked at once, past the staging that holds a cascading revoke for an admin's approval:
      // only a caller who could approve it may claim one (leak reports go through POST /v1/leaks).
      const leakField =
        body.leaked === true ? 'body.leaked' : body.rule_id === LEAKED_RULE ? 'body.rule_id' : undefined;
      if (leakField && !hasScope(actor?.scopes ?? [], 'admin')) {
        throw coreError(
          'FORBIDDEN',
          "handing in a leaked secret skips approval: it needs the 'admin' scope",
          {
            field: leakField,
            extra: { required_scope: 'admin' },
          },
        );
      }
      const i = await service().handleAlert(toAlert(body));
      return i ? service().incident(i.id) : null;
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/incidents/:id',
    summary: 'One incident with its timeline, playbook runs and steps',
    tags,
    scope: 'read',
    params: idParams,
    handler: async ({ params }) => service().incident(params.id),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/incidents/:id/ack',
    summary: 'Acknowledge an incident (optionally take ownership)',
    tags,
    scope: 'write',
    params: idParams,
    body: z.strictObject({ owner: z.string().min(1).max(200).optional() }).optional(),
    handler: async (c) => service().acknowledge(c.params.id, c.body?.owner, who(c), c.requestId),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/incidents/:id/resolve',
    summary: 'Resolve an incident',
    tags,
    scope: 'write',
    params: idParams,
    body: z.strictObject({ note: z.string().min(1).max(2000).optional() }).optional(),
    handler: async (c) => service().resolve(c.params.id, c.body?.note, who(c), c.requestId),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/incidents/:id/steps/:step/approve',
    summary: 'Approve a playbook step that waits for a human; the run continues',
    tags,
    scope: 'admin',
    params: stepParams,
    handler: async (c) => service().approveStep(c.params.id, c.params.step, who(c), c.requestId),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/incidents/:id/steps/:step/restore',
    summary: 'Undo a narrow_permissions step: put back the scopes it removed (kept in the step journal)',
    tags,
    scope: 'admin',
    params: stepParams,
    handler: async (c) => service().restoreNarrowed(c.params.id, c.params.step, who(c), c.requestId),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/leaks',
    summary:
      'Import a gitleaks or trufflehog report: matched credentials are revoked by the leaked-credential playbook',
    tags,
    scope: 'write',
    query: z.strictObject({ format: z.enum(LEAK_FORMATS).default('auto') }),
    body: z.unknown(),
    handler: async ({ body, query }) => service().importLeaks(parseLeakReport(body, query.format)),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/rotations',
    summary: 'Rotate a credential in stages (dry_run shows the consumers that would break)',
    tags,
    scope: 'write',
    body: z.strictObject({
      credential_id: id,
      overlap_minutes: z
        .number()
        .min(0)
        .max(7 * 24 * 60)
        .optional(),
      leaked: z.boolean().optional(),
      dry_run: z.boolean().optional(),
    }),
    handler: async (c) => {
      const b = c.body;
      if (b.dry_run) return service().rotations.preview(b.credential_id);
      return service().rotations.start(
        b.credential_id,
        {
          leaked: b.leaked,
          overlapMs: b.overlap_minutes === undefined ? undefined : b.overlap_minutes * 60_000,
        },
        { actor: who(c), requestId: c.requestId },
      );
    },
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/rotations',
    summary: 'Rotations, newest first',
    tags,
    scope: 'read',
    handler: async () => ({ items: await service().rotations.list() }),
  });

  addRoute(app, {
    method: 'GET',
    url: '/v1/rotations/:id',
    summary: 'One rotation with its consumer report',
    tags,
    scope: 'read',
    params: idParams,
    handler: async ({ params }) => service().rotations.get(params.id),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/rotations/:id/ack',
    summary: 'A consumer confirms it switched to the new credential',
    tags,
    scope: 'write',
    params: idParams,
    body: z.strictObject({ consumer: id }),
    handler: async ({ params, body }) => service().rotations.acknowledge(params.id, body.consumer),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/rotations/:id/complete',
    summary: 'End the overlap: revoke the old credential and report consumers that did not switch',
    tags,
    scope: 'write',
    params: idParams,
    body: z.strictObject({ force: z.boolean().optional() }).optional(),
    handler: async (c) =>
      service().rotations.complete(
        c.params.id,
        { actor: who(c), requestId: c.requestId },
        c.body?.force === true,
      ),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/break-glass/:id/use',
    summary: 'Unseal a break-glass account: justification required, short TTL, owners paged, incident opened',
    tags,
    scope: 'admin',
    params: idParams,
    body: z.strictObject({
      justification: z.string().max(2000),
      ttl_minutes: z.number().int().min(1).max(MAX_BREAK_GLASS_TTL_MINUTES).default(30),
    }),
    handler: async (c) =>
      service().breakGlass.use(c.params.id, c.body.justification, c.body.ttl_minutes, {
        actor: who(c),
        requestId: c.requestId,
      }),
  });

  addRoute(app, {
    method: 'POST',
    url: '/v1/break-glass/sessions/:id/end',
    summary: 'End a break-glass session now: the account is sealed (disabled) again',
    tags,
    scope: 'admin',
    params: idParams,
    handler: async (c) => service().breakGlass.end(c.params.id, { actor: who(c), requestId: c.requestId }),
  });
}
