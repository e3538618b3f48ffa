/**
 * One request handler for health and metrics endpoints, in the shape node:http, Express
 * (`app.use(handler)`) and Fastify (`reply.hijack(); handler(request.raw, reply.raw)`) all accept.
 *
 *   GET /health/live   200 while the process serves requests; never depends on the broker, so an
 *                      orchestrator does not restart every pod during a broker outage
 *   GET /health/ready  200 / 503 from every broker's healthCheck() (and extra checks), JSON
 *   GET /health        the same as /health/ready
 *   GET /metrics       Prometheus text from broker.getMetrics() (prom-client, loaded on first use)
 *
 * Every body goes through `redactSecrets`: health details quote URLs and client errors.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.ts';
import type { HealthStatus } from '../core/types.ts';
import { namedBrokers, type BrokerSource } from './brokers.ts';
import { aggregateHealth, checkHealth } from './health.ts';
import type { PrometheusExporter, PrometheusOptions } from './prometheus.ts';
import { redactSecrets, redactString } from './redact.ts';

export interface ObservabilityHandlerOptions {
  brokers: BrokerSource;
  /** Prefix of every path, e.g. '/ops'. Default ''. (With Express `app.use('/ops', handler)` leave it empty.) */
  basePath?: string;
  /** Bound of each health check. Default 5000 ms. */
  healthTimeoutMs?: number;
  /** More readiness checks (database, cache…), by name. */
  checks?: Readonly<Record<string, () => Promise<HealthStatus> | HealthStatus>>;
  /**
   * `/metrics`: false turns it off; an exporter is used as is; otherwise one is created on the
   * first scrape with these options (needs the optional peer dependency prom-client).
   */
  metrics?: false | PrometheusExporter | Omit<PrometheusOptions, 'brokers'>;
  logger?: Logger;
}

export type NextFunction = (error?: unknown) => void;
export type ObservabilityHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

type Route = 'live' | 'ready' | 'metrics';

export function createObservabilityHandler(options: ObservabilityHandlerOptions): ObservabilityHandler {
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const routes = new Map<string, Route>([
    [`${base}/health/live`, 'live'],
    [`${base}/health/ready`, 'ready'],
    [`${base}/health`, 'ready'],
  ]);
  if (options.metrics !== false) routes.set(`${base}/metrics`, 'metrics');
  const brokers = namedBrokers(options.brokers);
  const timeoutMs = options.healthTimeoutMs ?? 5000;
  const started = Date.now();
  let exporter: Promise<PrometheusExporter> | undefined;

  const readiness = async (): Promise<HealthStatus> => {
    const entries = await Promise.all([
      ...brokers.map(async ([name, broker]) => [name, await checkHealth(broker, { timeoutMs })] as const),
      ...Object.entries(options.checks ?? {}).map(async ([name, check]) => [name, await checkHealth({ name, healthCheck: async () => check() }, { timeoutMs })] as const),
    ]);
    return aggregateHealth(Object.fromEntries(entries));
  };

  const loadExporter = (): Promise<PrometheusExporter> => {
    const configured = options.metrics;
    if (configured !== undefined && configured !== false && 'metrics' in configured) return Promise.resolve(configured);
    exporter ??= import('./prometheus.ts').then(
      ({ createPrometheusExporter }) => createPrometheusExporter({ brokers: options.brokers, ...(configured || {}) }),
      (error: unknown) => {
        exporter = undefined;
        throw new Error(`/metrics needs the optional dependency prom-client: npm install prom-client (${error instanceof Error ? error.message : String(error)})`);
      },
    );
    return exporter;
  };

  const serve = async (route: Route, res: ServerResponse, head: boolean): Promise<void> => {
    if (route === 'live') {
      return sendJson(res, 200, { isHealthy: true, issues: [], details: { uptimeSeconds: Math.round((Date.now() - started) / 1000) } }, head);
    }
    if (route === 'ready') {
      const status = await readiness();
      return sendJson(res, status.isHealthy ? 200 : 503, status, head);
    }
    const metrics = await loadExporter();
    const text = await metrics.metrics();
    send(res, 200, metrics.contentType, text, head);
  };

  return (req, res, next) => {
    const path = pathOf(req.url);
    const route = routes.get(path) ?? routes.get(path.replace(/\/+$/, ''));
    if (route === undefined) {
      if (next) return next();
      return sendJson(res, 404, { error: `Not found: ${path}`, paths: [...routes.keys()] }, req.method === 'HEAD');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `Method ${req.method ?? '?'} not allowed on ${path}` }, false);
    }
    serve(route, res, req.method === 'HEAD').catch((error: unknown) => {
      const message = redactString(error instanceof Error ? error.message : String(error));
      options.logger?.error({ err: redactSecrets(error), path }, 'contractbus: observability endpoint failed');
      if (res.headersSent) return void res.destroy();
      sendJson(res, route === 'metrics' ? 500 : 503, route === 'metrics' ? { error: message } : { isHealthy: false, issues: [message], details: {} }, req.method === 'HEAD');
    });
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(redactSecrets(body)), head);
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(head ? undefined : body);
}
