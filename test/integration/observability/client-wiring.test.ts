/**
 * The hooks as BrokerClient itself calls them (`hooks` option, runtime/core/hooks.ts), over the
 * memory broker and the real Redis, RabbitMQ and Kafka clients; and default-on tracing through the
 * global OpenTelemetry API, which BrokerClient turns on when @opentelemetry/api is installed.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { MemoryBroker, MemoryHub, type MemoryBrokerOptions } from '../../../runtime/bindings/memory/index.ts';
import { RabbitMQClient } from '../../../runtime/bindings/rabbitmq/index.ts';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import type { MessagingHooks } from '../../../runtime/core/hooks.ts';
import type { MessageBroker } from '../../../runtime/core/types.ts';
import { MessagingInstrumentation } from '../../../runtime/observability/tracing.ts';
import { brokerUrls } from '../../support/brokers.ts';
import { createOtelHarness, parentSpanId, type OtelHarness } from './otel-harness.ts';
import { uniqueName, waitFor } from './support.ts';

/** `hooks: false` is what the patch adds; typed loosely so this file compiles before and after it. */
type WiredOptions = Omit<MemoryBrokerOptions, 'hooks'> & { hooks?: MessagingHooks | false };

let otel: OtelHarness;
const opened: MessageBroker[] = [];

beforeAll(() => {
  // Global providers: the default (auto-loaded) instrumentation uses the global API.
  otel = createOtelHarness({ global: true });
});
afterAll(async () => {
  await otel.shutdown();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.disconnect({ timeoutMs: 2000 }).catch(() => undefined)));
  otel.exporter.reset();
});

async function memory(options: WiredOptions): Promise<MemoryBroker> {
  const client = new MemoryBroker(options as MemoryBrokerOptions);
  await client.connect();
  opened.push(client);
  return client;
}

/** Hooks on the harness's global providers, as an application would build them. */
function instrumentation(broker: string): MessagingInstrumentation {
  return new MessagingInstrumentation({ broker });
}

let autoWired: boolean | undefined;
/** BrokerClient turns tracing on by itself (no `hooks` option given). */
async function requireDefaultOn(ctx: TestContext): Promise<void> {
  if (autoWired === undefined) {
    const client = await memory({ hub: new MemoryHub() });
    const topic = uniqueName('probe');
    await client.publish(topic, {});
    autoWired = otel.spans().some((s) => s.name === `send ${topic}`);
    otel.exporter.reset();
  }
  expect(autoWired, 'BrokerClient traces by default when @opentelemetry/api is installed').toBe(true);
  void ctx;
}

describe('BrokerClient with hooks: MessagingInstrumentation', () => {
  it('traces publish and handler, parent to child across clients', async () => {
    const hub = new MemoryHub();
    const producer = await memory({ hub, hooks: instrumentation('memory') });
    const consumer = await memory({ hub, hooks: instrumentation('memory') });
    const topic = uniqueName('orders');
    const seen: string[] = [];
    await consumer.subscribe(topic, (_m, meta) => {
      seen.push(meta.headers.traceparent ?? '');
    }, { group: 'billing' });
    await producer.publish(topic, { id: 1 }, { correlationId: 'req-7', headers: { tenant: 'acme' } });
    await waitFor(() => otel.spans().length === 2, 5000, 'two spans');
    const send = otel.span(`send ${topic}`);
    const process = otel.span(`process ${topic}`);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(parentSpanId(process)).toBe(send.spanContext().spanId);
    expect(seen[0]).toContain(send.spanContext().spanId);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.consumer.group.name': 'billing',
      'messaging.message.conversation_id': 'req-7',
      'messaging.message.id': send.attributes['messaging.message.id'],
      'messaging.message.body.size': 8,
    });
  });

  it('marks a failed attempt as error and still dead-letters', async () => {
    const client = await memory({ hub: new MemoryHub(), hooks: instrumentation('memory') });
    const topic = uniqueName('poison');
    await client.subscribe(topic, () => {
      throw new Error('bad');
    }, { maxRetries: 0 });
    await client.publish(topic, {});
    await waitFor(() => client.getMetrics().byTopic[topic]?.deadLettered === 1, 5000, 'dead-lettered');
    await waitFor(() => otel.spans().some((s) => s.name === `process ${topic}`), 5000, 'process span');
    const process = otel.span(`process ${topic}`);
    expect(process.status.code).toBe(SpanStatusCode.ERROR);
    expect(process.attributes['error.type']).toBe('Error');
  });

  it('takes hooks on private providers', async () => {
    const own = createOtelHarness();
    try {
      const hooks = new MessagingInstrumentation({ broker: 'memory', tracerProvider: own.tracerProvider, meterProvider: own.meterProvider, propagator: own.propagator });
      const client = await memory({ hub: new MemoryHub(), hooks });
      const topic = uniqueName('own');
      let handled = false;
      await client.subscribe(topic, () => {
        handled = true;
      });
      await client.publish(topic, {});
      await waitFor(() => handled && own.spans().length === 2, 5000, 'own spans');
      expect(parentSpanId(own.span(`process ${topic}`))).toBe(own.span(`send ${topic}`).spanContext().spanId);
      expect(otel.spans()).toHaveLength(0);
    } finally {
      await own.shutdown();
    }
  });
});

describe('BrokerClient default-on tracing (wiring patch)', () => {
  it('traces without any option once the app registers an SDK', async (ctx) => {
    await requireDefaultOn(ctx);
    const hub = new MemoryHub();
    const producer = await memory({ hub });
    const consumer = await memory({ hub });
    const topic = uniqueName('auto');
    let handled = 0;
    await consumer.subscribe(topic, () => {
      handled++;
    });
    await producer.publish(topic, {});
    await waitFor(() => handled === 1 && otel.spans().length === 2, 5000, 'two spans');
    expect(parentSpanId(otel.span(`process ${topic}`))).toBe(otel.span(`send ${topic}`).spanContext().spanId);
  });

  it('hooks: false turns it off: no spans, no trace headers', async (ctx) => {
    await requireDefaultOn(ctx);
    const quiet = await memory({ hub: new MemoryHub(), hooks: false });
    const headers: Array<Record<string, string>> = [];
    const topic = uniqueName('quiet');
    await quiet.subscribe(topic, (_m, meta) => {
      headers.push({ ...meta.headers });
    });
    await quiet.publish(topic, {});
    await waitFor(() => headers.length === 1, 5000, 'delivery');
    expect(headers[0]).toEqual({});
    expect(otel.spans()).toHaveLength(0);
  });
});

const urls = brokerUrls();
const bindings: Record<string, { system: string; timeoutMs: number; create(hooks: MessagingHooks): MessageBroker }> = {
  'redis-pubsub': { system: 'redis', timeoutMs: 5000, create: (hooks) => new RedisPubSubClient({ url: urls.redis, hooks }) },
  'redis-streams': { system: 'redis', timeoutMs: 5000, create: (hooks) => new RedisStreamsClient({ url: urls.redis.replace(/^redis(s?):/, 'redis$1+streams:'), blockMs: 200, hooks }) },
  rabbitmq: { system: 'rabbitmq', timeoutMs: 5000, create: (hooks) => new RabbitMQClient({ url: urls.amqp, groupQueueArguments: { 'x-expires': 60_000 }, hooks }) },
  kafka: {
    system: 'kafka',
    timeoutMs: 25_000,
    create: (hooks) =>
      new KafkaClient({ bootstrapServers: [...urls.kafkaBrokers], clientId: 'contractbus-observability-wiring', sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, drainTimeoutMs: 2000, hooks }),
  },
};

describe.each(Object.keys(bindings))('%s client with hooks', (name) => {
  it('traces publish to handler, parent to child through the native headers', async () => {
    const { system, timeoutMs, create } = bindings[name]!;
    const producer = create(instrumentation(name));
    const consumer = create(instrumentation(name));
    opened.push(producer, consumer);
    await producer.connect();
    await consumer.connect();
    const topic = uniqueName(`obs-wired-${name}`);
    const group = consumer.capabilities.consumerGroups ? uniqueName('g') : undefined;
    let handled = 0;
    await consumer.subscribe(topic, () => {
      handled++;
    }, group === undefined ? {} : { group, startFrom: 'earliest' });
    await producer.publish(topic, { n: 1 }, { correlationId: 'req-w', key: 'k-1' });
    await waitFor(() => handled === 1 && otel.spans().some((s) => s.name === `process ${topic}`), timeoutMs, `delivery on ${name}`);
    const send = otel.span(`send ${topic}`);
    const process = otel.span(`process ${topic}`);
    expect(parentSpanId(process)).toBe(send.spanContext().spanId);
    expect(send.attributes['messaging.system']).toBe(system);
    expect(process.attributes).toMatchObject({ 'messaging.system': system, 'messaging.message.conversation_id': 'req-w' });
    if (group !== undefined) expect(process.attributes['messaging.consumer.group.name']).toBe(group);
    if (system === 'kafka') {
      expect(send.attributes['messaging.kafka.message.key']).toBe('k-1');
      expect(send.attributes['messaging.destination.partition.id']).toBeDefined();
    }
  });
});
