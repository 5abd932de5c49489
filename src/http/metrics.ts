import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Per-server Prometheus registry (not the global one, so tests can run several servers in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bulkhead_' });
  const httpDuration = new Histogram({
    name: 'bulkhead_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'bulkhead_auth_failures_total',
    help: 'Requests refused for a missing or invalid API key',
    registers: [registry],
  });
  // The labelled child per method/route/status, kept: prom-client hashes the label object on every
  // observe(labels, value), a few microseconds on every request. Bounded by the route table.
  const children = new Map<string, { observe(seconds: number): void }>();
  const observeHttp = (method: string, route: string, status: number, seconds: number) => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = httpDuration.labels(method, route, String(status));
      children.set(key, child);
    }
    child.observe(seconds);
  };
  return { registry, httpDuration, authFailures, observeHttp };
}

export type Metrics = ReturnType<typeof createMetrics>;
