import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsCollector } from '../core/metrics.ts';
import type { HealthStatus, MessageBroker } from '../core/types.ts';
import { createObservabilityHandler } from './http.ts';

const SECRET = 'pa55-Wq8x';

function broker(name: string, health: () => Promise<HealthStatus>, collector = new MetricsCollector()): MessageBroker {
  return { name, getMetrics: () => collector.snapshot(), healthCheck: health } as MessageBroker;
}

const healthy = (name: string, collector?: MetricsCollector) =>
  broker(name, async () => ({ isHealthy: true, issues: [], details: { state: 'connected', url: `redis://app:${SECRET}@127.0.0.1:6379` } }), collector);

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
});

describe('createObservabilityHandler over node:http', () => {
  it('serves live, ready and health as JSON with 200 when every broker is healthy, secrets redacted', async () => {
    const url = await serve(createObservabilityHandler({ brokers: healthy('redis-streams') }));
    const live = await fetch(`${url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ isHealthy: true, issues: [] });

    for (const path of ['/health/ready', '/health', '/health/?verbose=1']) {
      const response = await fetch(url + path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const text = await response.text();
      expect(text).not.toContain(SECRET);
      expect(JSON.parse(text)).toEqual({
        isHealthy: true,
        issues: [],
        details: { 'redis-streams': { isHealthy: true, issues: [], details: { state: 'connected', url: 'redis://app:***@127.0.0.1:6379' } } },
      });
    }
  });

  it('answers 503 with the issues when a broker is unhealthy, throws or hangs; live stays 200', async () => {
    const url = await serve(
      createObservabilityHandler({
        brokers: {
          kafka: broker('kafka', async () => ({ isHealthy: false, issues: ['kafka: not connected (reconnecting)'], details: { sasl: { mechanism: 'plain', password: SECRET } } })),
          rabbitmq: broker('rabbitmq', () => Promise.reject(new Error(`connect ECONNREFUSED amqp://u:${SECRET}@mq`))),
          redis: broker('redis', () => new Promise(() => {})),
        },
        healthTimeoutMs: 50,
        checks: { database: () => ({ isHealthy: true, issues: [], details: {} }) },
      }),
    );
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    const text = await ready.text();
    expect(text).not.toContain(SECRET);
    const body = JSON.parse(text) as HealthStatus;
    expect(body.isHealthy).toBe(false);
    expect(body.issues).toEqual([
      'kafka: not connected (reconnecting)',
      'rabbitmq: health check failed: connect ECONNREFUSED amqp://u:***@mq',
      'redis: health check failed: health check did not answer within 50 ms',
    ]);
    expect(Object.keys(body.details)).toEqual(['kafka', 'rabbitmq', 'redis', 'database']);
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  it('serves /metrics in Prometheus text format from getMetrics()', async () => {
    const collector = new MetricsCollector();
    collector.published('orders', 3);
    collector.consumed('orders', 5);
    const url = await serve(createObservabilityHandler({ brokers: [healthy('memory', collector)] }));
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('contractbus_messages_published_total{broker="memory",topic="orders"} 1');
    expect(text).toContain('contractbus_messages_consumed_total{broker="memory",topic="orders"} 1');
    expect(text).toContain('contractbus_handler_duration_seconds_count{broker="memory"} 1');
  });

  it('honours basePath, HEAD, 405 and 404, and can turn metrics off', async () => {
    const url = await serve(createObservabilityHandler({ brokers: healthy('memory'), basePath: '/ops/', metrics: false }));
    const head = await fetch(`${url}/ops/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${url}/ops/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${url}/health`)).status).toBe(404);
    expect((await fetch(`${url}/ops/metrics`)).status).toBe(404);
  });

  it('passes unknown paths to next() as Express middleware does', async () => {
    const handler = createObservabilityHandler({ brokers: healthy('memory') });
    const url = await serve((req, res) =>
      handler(req, res, () => {
        res.statusCode = 418;
        res.end('app route');
      }),
    );
    const response = await fetch(`${url}/orders`);
    expect(response.status).toBe(418);
    expect(await response.text()).toBe('app route');
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });
});
