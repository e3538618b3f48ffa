/**
 * Observability over the real runtime: MemoryBroker clients (BrokerClient + MemoryTransport) on one
 * hub, instrumented from the outside with `instrumentBroker`. Two clients on one hub stand for two
 * services talking through a broker.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker, MemoryHub } from '../../../runtime/bindings/memory/index.ts';
import type { MessageBroker } from '../../../runtime/core/types.ts';
import { instrumentBroker } from '../../../runtime/observability/instrument.ts';
import { createOtelHarness, parentSpanId, type OtelHarness } from './otel-harness.ts';
import { uniqueName, waitFor } from './support.ts';

let otel: OtelHarness;
const opened: MessageBroker[] = [];

beforeAll(() => {
  otel = createOtelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.disconnect({ timeoutMs: 1000 })));
  otel.exporter.reset();
});

async function service(hub: MemoryHub): Promise<MemoryBroker> {
  const raw = new MemoryBroker({ hub });
  await raw.connect();
  opened.push(raw);
  return instrumentBroker(raw, { tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider, propagator: otel.propagator });
}

describe('instrumentBroker over MemoryBroker', () => {
  it('links publisher and consumer spans across two clients, and through a handler that publishes on', async () => {
    const hub = new MemoryHub();
    const orders = await service(hub);
    const billing = await service(hub);
    const placed = uniqueName('orders.placed');
    const charged = uniqueName('payments.charged');
    const seen: string[] = [];
    await billing.subscribe(placed, async (_message, meta) => {
      await billing.publish(charged, { orderId: 'o-1' }, { correlationId: meta.correlationId });
    }, { group: 'billing' });
    await orders.subscribe(charged, (_message, meta) => {
      seen.push(meta.headers.traceparent ?? 'none');
    });

    await orders.publish(placed, { orderId: 'o-1' }, { correlationId: 'req-1', headers: { tenant: 'acme' } });
    await waitFor(() => seen.length === 1 && otel.spans().length === 4, 5000, 'four spans');

    const sendPlaced = otel.span(`send ${placed}`);
    const processPlaced = otel.span(`process ${placed}`);
    const sendCharged = otel.span(`send ${charged}`);
    const processCharged = otel.span(`process ${charged}`);
    expect(new Set(otel.spans().map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(parentSpanId(processPlaced)).toBe(sendPlaced.spanContext().spanId);
    expect(parentSpanId(sendCharged)).toBe(processPlaced.spanContext().spanId);
    expect(parentSpanId(processCharged)).toBe(sendCharged.spanContext().spanId);
    expect(sendPlaced.kind).toBe(SpanKind.PRODUCER);
    expect(processPlaced.kind).toBe(SpanKind.CONSUMER);
    expect(processPlaced.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': placed,
      'messaging.consumer.group.name': 'billing',
      'messaging.message.conversation_id': 'req-1',
      'messaging.message.id': sendPlaced.attributes['messaging.message.id'],
    });
    expect(seen[0]).toContain(sendCharged.spanContext().spanId);
  });

  it('gives each in-process retry its own process span, the failed one marked as error', async () => {
    const hub = new MemoryHub();
    const broker = await service(hub);
    const topic = uniqueName('flaky');
    let calls = 0;
    await broker.subscribe(topic, () => {
      calls++;
      if (calls === 1) throw new Error('first attempt fails');
    }, { retryDelay: 1, maxRetries: 2, jitter: 0 });
    await broker.publish(topic, { n: 1 });
    await waitFor(() => otel.spans().filter((s) => s.name === `process ${topic}`).length === 2, 5000, 'two process spans');
    const [first, second] = otel.spans().filter((s) => s.name === `process ${topic}`).sort((a, b) => Number(a.attributes['contractbus.delivery.attempt']) - Number(b.attributes['contractbus.delivery.attempt']));
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(first!.attributes['error.type']).toBe('Error');
    expect(second!.status.code).toBe(SpanStatusCode.UNSET);
    expect(second!.attributes['contractbus.delivery.attempt']).toBe(2);
    const send = otel.span(`send ${topic}`);
    expect(parentSpanId(first!)).toBe(send.spanContext().spanId);
    expect(parentSpanId(second!)).toBe(send.spanContext().spanId);
  });

  it('names pattern subscriptions by template and counts messages in OTel metrics', async () => {
    const hub = new MemoryHub();
    const broker = await service(hub);
    const prefix = uniqueName('shop');
    let handled = 0;
    await broker.subscribe(`${prefix}.*.created`, () => {
      handled++;
    }, { group: 'audit' });
    await broker.publish(`${prefix}.eu.created`, {});
    await broker.publish(`${prefix}.us.created`, {});
    await waitFor(() => handled === 2, 5000, 'two handled');
    await waitFor(() => otel.spans().length === 4, 5000, 'spans ended');
    expect(otel.spans().filter((s) => s.name === `process ${prefix}.*.created`)).toHaveLength(2);

    const all = await otel.reader.metrics();
    const consumed = all.find((m) => m.descriptor.name === 'messaging.client.consumed.messages') as SumMetricData;
    const point = consumed.dataPoints.find((p) => p.attributes['messaging.destination.name'] === `${prefix}.*.created`);
    expect(point?.value).toBe(2);
    expect(point?.attributes).toEqual({
      'messaging.system': 'memory',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': `${prefix}.*.created`,
      'messaging.consumer.group.name': 'audit',
    });
    const sent = all.find((m) => m.descriptor.name === 'messaging.client.sent.messages') as SumMetricData;
    expect(sent.dataPoints.filter((p) => String(p.attributes['messaging.destination.name']).startsWith(prefix)).reduce((n, p) => n + p.value, 0)).toBe(2);
  });

  it('keeps binding extras and getMetrics() working through the wrapper', async () => {
    const hub = new MemoryHub();
    const broker = await service(hub);
    const topic = uniqueName('extras');
    await broker.publish(topic, { n: 1 });
    expect(broker.getMetrics().byTopic[topic]?.messagesPublished).toBe(1);
    expect(broker.stats().topics).toBeGreaterThanOrEqual(1);
    expect((await broker.healthCheck()).isHealthy).toBe(true);
  });
});
