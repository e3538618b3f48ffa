/**
 * Health, Prometheus and redaction against the real runtime (MemoryBroker), over real HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker, MemoryHub } from '../../../runtime/bindings/memory/index.ts';
import type { Logger } from '../../../runtime/core/logger.ts';
import { createObservabilityHandler } from '../../../runtime/observability/http.ts';
import { createRedactingLogger } from '../../../runtime/observability/logger.ts';
import { uniqueName, waitFor } from './support.ts';

const SECRET = 'Sup3r-s3cret-77';
let server: Server | undefined;
const opened: MemoryBroker[] = [];

afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  await Promise.all(opened.splice(0).map((broker) => broker.disconnect({ timeoutMs: 1000 })));
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Prints like a JSON logger would; keeps every line. */
function jsonLines(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, msg, ...obj }, (_k, v: unknown) => (v instanceof Error ? { type: v.name, message: v.message, stack: v.stack, cause: v.cause } : v)));
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

describe('observability handler over MemoryBroker', () => {
  it('reports ready while connected and 503 after disconnect; live stays 200', async () => {
    const broker = new MemoryBroker({ hub: new MemoryHub() });
    await broker.connect();
    opened.push(broker);
    const topic = uniqueName('health');
    await broker.subscribe(topic, () => {}, { group: 'g' });
    const url = await listen(createObservabilityHandler({ brokers: broker }));

    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { isHealthy: boolean; details: Record<string, { details: { subscriptions: Array<{ topic: string }> } }> };
    expect(body.isHealthy).toBe(true);
    expect(body.details.memory?.details.subscriptions.map((s) => s.topic)).toEqual([topic]);

    await broker.disconnect();
    const after = await fetch(`${url}/health`);
    expect(after.status).toBe(503);
    const down = (await after.json()) as { issues: string[] };
    expect(down.issues.some((issue) => issue.includes('not connected'))).toBe(true);
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  it('serves /metrics that match getMetrics() exactly, scrape after scrape', async () => {
    const hub = new MemoryHub();
    const broker = new MemoryBroker({ hub });
    await broker.connect();
    opened.push(broker);
    const topic = uniqueName('metrics');
    let handled = 0;
    await broker.subscribe(topic, (message: { n: number }) => {
      if (message.n === 3) throw new Error('poison');
      handled++;
    }, { maxRetries: 0 });
    for (let n = 1; n <= 5; n++) await broker.publish(topic, { n });
    await waitFor(() => handled === 4 && broker.getMetrics().byTopic[topic]?.deadLettered === 1, 5000, 'handled and dead-lettered');

    const url = await listen(createObservabilityHandler({ brokers: broker }));
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const first = await scrape();
    const second = await scrape();
    const metrics = broker.getMetrics();
    for (const text of [first, second]) {
      expect(sample(text, `contractbus_messages_published_total{broker="memory",topic="${topic}"}`)).toBe(metrics.byTopic[topic]!.messagesPublished);
      expect(sample(text, `contractbus_messages_published_total{broker="memory",topic="${topic}"}`)).toBe(5);
      expect(sample(text, `contractbus_messages_consumed_total{broker="memory",topic="${topic}"}`)).toBe(4);
      expect(sample(text, `contractbus_processing_errors_total{broker="memory",topic="${topic}"}`)).toBe(1);
      expect(sample(text, `contractbus_dead_lettered_total{broker="memory",topic="${topic}"}`)).toBe(1);
      expect(sample(text, 'contractbus_handler_duration_seconds_count{broker="memory"}')).toBe(4);
      expect(sample(text, 'contractbus_in_flight{broker="memory"}')).toBe(0);
    }
  });

  it('lets no secret through the logs of a failing flow, or the health output', async () => {
    const sink = jsonLines();
    const broker = new MemoryBroker({ hub: new MemoryHub(), logger: createRedactingLogger(sink) });
    await broker.connect();
    opened.push(broker);
    const topic = uniqueName('secret');
    let attempts = 0;
    // A handler failure quoting a connection string, as client libraries do; dead-lettering off so the pipeline logs it.
    await broker.subscribe(topic, () => {
      attempts++;
      throw new Error(`cannot reach amqp://billing:${SECRET}@10.0.0.5:5672/prod`, { cause: new Error(`password=${SECRET}`) });
    }, { maxRetries: 0, enableDlq: false });
    await broker.publish(topic, { n: 1 });
    await waitFor(() => broker.getMetrics().byTopic[topic]?.dropped === 1, 5000, 'dropped');
    expect(attempts).toBe(1);
    const logged = sink.lines.join('\n');
    expect(logged).toContain('amqp://billing:***@10.0.0.5:5672/prod');
    expect(logged).not.toContain(SECRET);

    const url = await listen(createObservabilityHandler({
      brokers: broker,
      checks: { upstream: () => ({ isHealthy: false, issues: [`upstream redis://:${SECRET}@cache:6379 down`], details: { password: SECRET } }) },
    }));
    const health = await (await fetch(`${url}/health`)).text();
    expect(health).toContain('redis://:***@cache:6379');
    expect(health).not.toContain(SECRET);
  });
});
