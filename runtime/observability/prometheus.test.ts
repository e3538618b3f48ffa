import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsCollector } from '../core/metrics.ts';
import type { BrokerMetrics, HealthStatus, MessageBroker } from '../core/types.ts';
import { createPrometheusExporter } from './prometheus.ts';

/** Only what the exporter reads; the numbers come from the runtime's real collector. */
function brokerWith(name: string, collector: MetricsCollector): MessageBroker {
  return {
    name,
    getMetrics: (): BrokerMetrics => collector.snapshot(),
    healthCheck: async (): Promise<HealthStatus> => ({ isHealthy: true, issues: [], details: {} }),
  } as MessageBroker;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createPrometheusExporter', () => {
  it('exposes per-topic counters, in-flight and latency summaries in Prometheus text format', async () => {
    const collector = new MetricsCollector();
    collector.published('orders', 4);
    collector.published('orders', 6);
    collector.published('payments', 2);
    collector.consumed('orders', 12);
    collector.processingError('orders');
    collector.retried('orders');
    collector.deadLettered('orders');
    collector.connectionError();
    collector.inFlight(3);
    const exporter = createPrometheusExporter({ brokers: brokerWith('redis-streams', collector) });
    const text = await exporter.metrics();

    expect(exporter.contentType).toContain('text/plain; version=0.0.4');
    expect(text).toContain('# TYPE contractbus_messages_published_total counter');
    expect(sample(text, 'contractbus_messages_published_total{broker="redis-streams",topic="orders"}')).toBe(2);
    expect(sample(text, 'contractbus_messages_published_total{broker="redis-streams",topic="payments"}')).toBe(1);
    expect(sample(text, 'contractbus_messages_consumed_total{broker="redis-streams",topic="orders"}')).toBe(1);
    expect(sample(text, 'contractbus_processing_errors_total{broker="redis-streams",topic="orders"}')).toBe(1);
    expect(sample(text, 'contractbus_retries_total{broker="redis-streams",topic="orders"}')).toBe(1);
    expect(sample(text, 'contractbus_dead_lettered_total{broker="redis-streams",topic="orders"}')).toBe(1);
    expect(sample(text, 'contractbus_dropped_total{broker="redis-streams",topic="orders"}')).toBe(0);
    expect(sample(text, 'contractbus_connection_errors_total{broker="redis-streams"}')).toBe(1);
    expect(text).toContain('# TYPE contractbus_in_flight gauge');
    expect(sample(text, 'contractbus_in_flight{broker="redis-streams"}')).toBe(3);

    expect(text).toContain('# TYPE contractbus_publish_duration_seconds summary');
    expect(sample(text, 'contractbus_publish_duration_seconds_count{broker="redis-streams"}')).toBe(3);
    expect(sample(text, 'contractbus_publish_duration_seconds_sum{broker="redis-streams"}')).toBeCloseTo(0.012, 9);
    const p99 = sample(text, 'contractbus_publish_duration_seconds{broker="redis-streams",quantile="0.99"}')!;
    expect(p99).toBeGreaterThan(0.0055);
    expect(p99).toBeLessThanOrEqual(0.006);
    expect(sample(text, 'contractbus_handler_duration_seconds_count{broker="redis-streams"}')).toBe(1);
  });

  it('reads absolute values at each scrape: scraping twice never double counts', async () => {
    const collector = new MetricsCollector();
    const exporter = createPrometheusExporter({ brokers: [brokerWith('memory', collector)] });
    collector.published('t', 1);
    const first = await exporter.metrics();
    const second = await exporter.metrics();
    expect(sample(first, 'contractbus_messages_published_total{broker="memory",topic="t"}')).toBe(1);
    expect(sample(second, 'contractbus_messages_published_total{broker="memory",topic="t"}')).toBe(1);
    collector.published('t', 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sample(await exporter.metrics(), 'contractbus_messages_published_total{broker="memory",topic="t"}')).toBe(2);
  });

  it('labels several brokers, de-duplicating equal names, and joins an existing registry', async () => {
    const registry = new Registry();
    const a = new MetricsCollector();
    const b = new MetricsCollector();
    a.published('t', 1);
    b.published('t', 1);
    b.published('t', 1);
    createPrometheusExporter({ brokers: [brokerWith('redis-pubsub', a), brokerWith('redis-pubsub', b)], registry, prefix: 'app_' });
    const text = await registry.metrics();
    expect(sample(text, 'app_messages_published_total{broker="redis-pubsub",topic="t"}')).toBe(1);
    expect(sample(text, 'app_messages_published_total{broker="redis-pubsub#2",topic="t"}')).toBe(2);
  });

  it('escapes label values (topics are user input)', async () => {
    const collector = new MetricsCollector();
    collector.published('we"ird\\topic', 1);
    const text = await createPrometheusExporter({ brokers: { main: brokerWith('memory', collector) } }).metrics();
    expect(text).toContain('contractbus_messages_published_total{broker="main",topic="we\\"ird\\\\topic"} 1');
  });
});
