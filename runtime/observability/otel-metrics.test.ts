import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetricsCollector } from '../core/metrics.ts';
import type { HealthStatus, MessageBroker } from '../core/types.ts';
import { createOtelHarness, type OtelHarness } from '../../test/integration/observability/otel-harness.ts';
import { registerOtelBrokerMetrics } from './otel-metrics.ts';

let otel: OtelHarness;
beforeEach(() => {
  otel = createOtelHarness();
});
afterEach(async () => {
  await otel.shutdown();
});

function brokerWith(name: string, collector: MetricsCollector): MessageBroker {
  return { name, getMetrics: () => collector.snapshot(), healthCheck: async (): Promise<HealthStatus> => ({ isHealthy: true, issues: [], details: {} }) } as MessageBroker;
}

describe('registerOtelBrokerMetrics', () => {
  it('observes the runtime counters per topic at collection time, without double counting', async () => {
    const collector = new MetricsCollector();
    collector.published('orders', 1);
    collector.deadLettered('orders');
    collector.retried('orders');
    collector.retried('orders');
    collector.inFlight(2);
    const unregister = registerOtelBrokerMetrics({ brokers: brokerWith('rabbitmq', collector), meterProvider: otel.meterProvider });

    const read = async (name: string) => ((await otel.reader.metrics()).find((m) => m.descriptor.name === name) as SumMetricData | undefined)?.dataPoints ?? [];
    const retried = await read('contractbus.messages.retried');
    expect(retried).toHaveLength(1);
    expect(retried[0]!.value).toBe(2);
    expect(retried[0]!.attributes).toEqual({ 'contractbus.client': 'rabbitmq', 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'orders' });
    expect((await read('contractbus.messages.dead_lettered'))[0]!.value).toBe(1);
    expect((await read('contractbus.handlers.in_flight'))[0]!.value).toBe(2);

    collector.retried('orders');
    expect((await read('contractbus.messages.retried'))[0]!.value).toBe(3);
    expect((await read('contractbus.messages.retried'))[0]!.value).toBe(3);

    unregister();
    collector.retried('orders');
    const after = await read('contractbus.messages.retried');
    expect(after.every((p) => p.value === 3)).toBe(true);
  });
});
