import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { DataPointType, type HistogramMetricData, type MetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError } from '../core/errors.ts';
import type { Headers } from '../core/types.ts';
import { createOtelHarness, parentSpanId, type OtelHarness } from '../../test/integration/observability/otel-harness.ts';
import { MessagingInstrumentation } from './tracing.ts';

let otel: OtelHarness;

beforeEach(() => {
  otel = createOtelHarness();
});
afterEach(async () => {
  await otel.shutdown();
});

function instrumentation(broker = 'redis-streams'): MessagingInstrumentation {
  return new MessagingInstrumentation({ broker, tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider, propagator: otel.propagator });
}

/** What a broker does to headers: strings in, strings out, a fresh object on the other side. */
function roundTrip(headers: Headers): Headers {
  return JSON.parse(JSON.stringify(headers)) as Headers;
}

function metric(all: MetricData[], name: string): MetricData {
  const found = all.find((m) => m.descriptor.name === name);
  if (!found) throw new Error(`no metric ${name}; have ${all.map((m) => m.descriptor.name).join(', ')}`);
  return found;
}

describe('MessagingInstrumentation tracing', () => {
  it('makes the consumer span a child of the producer span through the message headers', async () => {
    const tracing = instrumentation();
    const headers: Headers = { 'user-header': 'x' };
    let sentHeaders: Headers | undefined;
    await tracing.wrapPublish('orders.created', headers, async () => {
      sentHeaders = roundTrip(headers);
      return { offset: '1-0' };
    }, { messageId: 'm-1', correlationId: 'req-789' });

    expect(sentHeaders?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(sentHeaders?.['user-header']).toBe('x');

    let handlerSpanId: string | undefined;
    await tracing.wrapProcess('orders.created', sentHeaders!, { messageId: 'm-1', correlationId: 'req-789', group: 'billing', attempt: 1 }, async () => {
      // Spans the handler starts hang under the process span.
      const child = otel.tracerProvider.getTracer('app').startSpan('charge card');
      handlerSpanId = trace.getActiveSpan()?.spanContext().spanId;
      child.end();
    });

    const send = otel.span('send orders.created');
    const process = otel.span('process orders.created');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(send.spanContext().traceId);
    expect(parentSpanId(process)).toBe(send.spanContext().spanId);
    expect(handlerSpanId).toBe(process.spanContext().spanId);
    expect(sentHeaders?.traceparent).toContain(send.spanContext().spanId);

    expect(send.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'orders.created',
      'messaging.message.id': 'm-1',
      'messaging.message.conversation_id': 'req-789',
    });
    expect(process.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'orders.created',
      'messaging.consumer.group.name': 'billing',
      'messaging.message.id': 'm-1',
      'messaging.message.conversation_id': 'req-789',
      'contractbus.delivery.attempt': 1,
    });
    expect(send.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('parents the producer span on the caller\'s active span', async () => {
    const tracing = instrumentation('kafka');
    const request = otel.tracerProvider.getTracer('app').startSpan('POST /orders');
    await context.with(trace.setSpan(context.active(), request), () =>
      tracing.wrapPublish('orders', {}, async () => ({ partition: 2, offset: '41' }), { key: 'customer-1' }),
    );
    request.end();
    const send = otel.span('send orders');
    expect(parentSpanId(send)).toBe(request.spanContext().spanId);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.kafka.message.key': 'customer-1',
      'messaging.destination.partition.id': '2',
      'messaging.kafka.offset': 41,
    });
  });

  it('starts a new trace for a message without trace headers, ignoring the ambient context', async () => {
    const tracing = instrumentation('memory');
    const ambient = otel.tracerProvider.getTracer('app').startSpan('publisher side');
    await context.with(trace.setSpan(context.active(), ambient), () => tracing.wrapProcess('t', {}, {}, () => 'done'));
    ambient.end();
    const process = otel.span('process t');
    expect(parentSpanId(process)).toBeUndefined();
    expect(process.spanContext().traceId).not.toBe(ambient.spanContext().traceId);
  });

  it('reads trace headers case-insensitively (AMQP bridges capitalise them)', async () => {
    const tracing = instrumentation('rabbitmq');
    const headers: Headers = {};
    await tracing.wrapPublish('q', headers, async () => ({}));
    await tracing.wrapProcess('q', { Traceparent: headers.traceparent! }, {}, async () => undefined);
    expect(parentSpanId(otel.span('process q'))).toBe(otel.span('send q').spanContext().spanId);
  });

  it('names pattern subscriptions by their template and keeps the concrete topic', async () => {
    const tracing = instrumentation('memory');
    await tracing.wrapProcess('orders.eu.created', {}, { subscription: 'orders.*.created' }, () => undefined);
    const span = otel.span('process orders.*.created');
    expect(span.attributes['messaging.destination.name']).toBe('orders.eu.created');
    expect(span.attributes['messaging.destination.template']).toBe('orders.*.created');
  });

  it('marks failed sends and handlers with error status, error.type and a redacted exception, and rethrows', async () => {
    const tracing = instrumentation('rabbitmq');
    const failure = new ConnectionError('connect ECONNREFUSED amqp://app:hunter2@10.0.0.1:5672', { broker: 'rabbitmq' });
    await expect(tracing.wrapPublish('q', {}, () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(
      tracing.wrapProcess('q', {}, {}, () => {
        throw new TimeoutError('handler too slow');
      }),
    ).rejects.toBeInstanceOf(TimeoutError);

    const send = otel.span('send q');
    expect(send.status.code).toBe(SpanStatusCode.ERROR);
    expect(send.attributes['error.type']).toBe('ConnectionError');
    expect(JSON.stringify(send.events)).toContain('amqp://app:***@10.0.0.1');
    expect(JSON.stringify([send.events, send.status])).not.toContain('hunter2');
    const process = otel.span('process q');
    expect(process.status.code).toBe(SpanStatusCode.ERROR);
    expect(process.attributes['error.type']).toBe('TimeoutError');
  });

  it('adds settle spans as children of the active span', async () => {
    const tracing = instrumentation('rabbitmq');
    await tracing.wrapProcess('q', {}, {}, () => tracing.wrapSettle('q', 'ack', { messageId: 'm' }, async () => undefined));
    const ack = otel.span('ack q');
    expect(ack.kind).toBe(SpanKind.CLIENT);
    expect(ack.attributes['messaging.operation.type']).toBe('settle');
    expect(parentSpanId(ack)).toBe(otel.span('process q').spanContext().spanId);
  });
});

describe('MessagingInstrumentation metrics', () => {
  it('records the four messaging metrics with the convention attributes', async () => {
    const tracing = instrumentation('kafka');
    await tracing.wrapPublish('orders', {}, async () => ({}));
    await tracing.wrapPublish('orders', {}, async () => ({}));
    await expect(tracing.wrapPublish('orders', {}, () => Promise.reject(new TimeoutError('x')))).rejects.toThrow();
    await tracing.wrapProcess('orders', {}, { group: 'billing' }, () => undefined);
    await expect(tracing.wrapProcess('orders', {}, { group: 'billing' }, () => Promise.reject(new Error('boom')))).rejects.toThrow();

    const all = await otel.reader.metrics();
    const duration = metric(all, 'messaging.client.operation.duration') as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    const ok = duration.dataPoints.find((p) => p.attributes['error.type'] === undefined)!;
    expect(ok.attributes).toEqual({
      'messaging.system': 'kafka',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'orders',
    });
    expect(ok.value.count).toBe(2);
    expect(ok.value.buckets.boundaries).toContain(0.005);
    expect(duration.dataPoints.find((p) => p.attributes['error.type'] === 'TimeoutError')?.value.count).toBe(1);

    const sent = metric(all, 'messaging.client.sent.messages') as SumMetricData;
    expect(Object.fromEntries(sent.dataPoints.map((p) => [String(p.attributes['error.type'] ?? 'ok'), p.value]))).toEqual({ ok: 2, TimeoutError: 1 });

    const consumed = metric(all, 'messaging.client.consumed.messages') as SumMetricData;
    expect(consumed.dataPoints.map((p) => p.value).reduce((a, b) => a + b, 0)).toBe(2);
    expect(consumed.dataPoints.every((p) => p.attributes['messaging.consumer.group.name'] === 'billing')).toBe(true);

    const process = metric(all, 'messaging.process.duration') as HistogramMetricData;
    expect(process.descriptor.unit).toBe('s');
    const failed = process.dataPoints.find((p) => p.attributes['error.type'] === 'Error')!;
    expect(failed.attributes).toMatchObject({ 'messaging.operation.name': 'process', 'messaging.destination.name': 'orders' });
    // No per-message attributes on metrics: unbounded cardinality.
    for (const m of all) for (const point of m.dataPoints) expect(point.attributes['messaging.message.id']).toBeUndefined();
  });
});

describe('MessagingInstrumentation without an SDK', () => {
  it('is a no-op through the global API: nothing injected, results and errors pass through', async () => {
    const tracing = new MessagingInstrumentation({ broker: 'memory' });
    const headers: Headers = {};
    await expect(tracing.wrapPublish('t', headers, async () => 42)).resolves.toBe(42);
    expect(headers).toEqual({});
    await expect(tracing.wrapProcess('t', {}, {}, () => 'ok')).resolves.toBe('ok');
    await expect(tracing.wrapProcess('t', {}, {}, () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(otel.spans()).toHaveLength(0);
  });

  it('lets the pipeline call handlers directly (processIsPlain) only while nothing observes them', async () => {
    const tracing = new MessagingInstrumentation({ broker: 'memory' });
    expect(tracing.processIsPlain()).toBe(true);
    const global = createOtelHarness({ global: true });
    try {
      expect(tracing.processIsPlain()).toBe(false);
    } finally {
      await global.shutdown();
    }
    // Explicit providers always observe.
    expect(instrumentation().processIsPlain()).toBe(false);
  });

  it('uses the global tracer provider and propagator once the app registers them', async () => {
    const global = createOtelHarness({ global: true });
    try {
      const tracing = new MessagingInstrumentation({ broker: 'memory' });
      const headers: Headers = {};
      await tracing.wrapPublish('t', headers, async () => undefined);
      await tracing.wrapProcess('t', headers, {}, () => undefined);
      expect(headers.traceparent).toBeDefined();
      expect(parentSpanId(global.span('process t'))).toBe(global.span('send t').spanContext().spanId);
    } finally {
      await global.shutdown();
    }
  });
});
