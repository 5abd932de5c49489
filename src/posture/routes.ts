/** Posture routes: the report (JSON, SARIF or Markdown), one identity's score, the trend, and snapshots. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { coreError } from '../errors.js';
import { addRoute } from '../http/route.js';
import { toMarkdown, toSarif } from './formats.js';
import { NHI_RISKS, SEVERITIES } from './model.js';
import type { PostureService } from './service.js';

const reportQuery = z.strictObject({
  format: z.enum(['json', 'sarif', 'markdown']).default('json'),
  rotation_days: z.coerce.number().int().min(1).max(3650).optional(),
  stale_days: z.coerce.number().int().min(1).max(3650).optional(),
  nhi: z.enum(Object.keys(NHI_RISKS) as [string, ...string[]]).optional(),
  min_severity: z.enum(SEVERITIES).optional(),
});

export function registerPostureRoutes(app: FastifyInstance, service: PostureService): void {
  const tags = ['posture'];
  addRoute(app, {
    method: 'GET',
    url: '/v1/posture',
    summary:
      'Posture findings mapped to OWASP NHI Top 10 (2025), NIST CSF 2.0 and ATT&CK, with scores (json, sarif or markdown)',
    tags,
    scope: 'read',
    query: reportQuery,
    handler: async ({ query, reply }) => {
      const report = await service.compute({
        ...(query.rotation_days ? { rotationDays: query.rotation_days } : {}),
        ...(query.stale_days ? { staleDays: query.stale_days } : {}),
      });
      // Keep the trend going without a scheduler: at most one automatic snapshot per hour.
      await service.snapshot(report);
      const cut = query.min_severity ? SEVERITIES.indexOf(query.min_severity) : SEVERITIES.length - 1;
      report.findings = report.findings.filter(
        (f) => (!query.nhi || f.nhi === query.nhi) && SEVERITIES.indexOf(f.severity) <= cut,
      );
      if (query.format === 'sarif') return reply.type('application/sarif+json').send(toSarif(report));
      if (query.format === 'markdown')
        return reply.type('text/markdown; charset=utf-8').send(toMarkdown(report));
      return report;
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/posture/identities/:id',
    summary: "One identity's posture score and findings",
    tags,
    scope: 'read',
    params: z.strictObject({ id: z.string().min(1).max(200) }),
    handler: async ({ params }) => {
      const report = await service.compute();
      const score = report.identities.find((i) => i.identityId === params.id);
      if (!score)
        throw coreError('NOT_FOUND', `no active non-human identity ${params.id}`, { field: 'params.id' });
      return { ...score, items: report.findings.filter((f) => f.identityId === params.id) };
    },
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/posture/identities/:id/usage',
    summary: 'Granted vs actually used permissions of an identity, with a least-privilege suggestion',
    tags,
    scope: 'read',
    params: z.strictObject({ id: z.string().min(1).max(200) }),
    handler: async ({ params }) => service.usageOf(params.id),
  });
  addRoute(app, {
    method: 'GET',
    url: '/v1/posture/trend',
    summary: 'Organisation score and finding counts over time (oldest first)',
    tags,
    scope: 'read',
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(90) }),
    handler: async ({ query }) => ({ items: await service.trend(query.limit) }),
  });
  addRoute(app, {
    method: 'POST',
    url: '/v1/posture/snapshots',
    summary: 'Compute posture now and store a snapshot for the trend',
    tags,
    scope: 'write',
    successStatus: 201,
    handler: async () => {
      const report = await service.compute();
      await service.snapshot(report, true);
      return { takenAt: report.generatedAt, orgScore: report.org.score, findings: report.org.findings };
    },
  });
}
