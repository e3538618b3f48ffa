/**
 * Trace context through the real wire formats: Redis Pub/Sub (JSON envelope), Redis Streams
 * (entry fields), RabbitMQ (AMQP headers) and Kafka (record headers), and one trace that crosses
 * all three brokers. Brokers are the real servers on 127.0.0.1 (scripts/brokers.sh).
 */
import { SpanKind } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { RabbitMQClient } from '../../../runtime/bindings/rabbitmq/index.ts';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import type { MessageBroker } from '../../../runtime/core/types.ts';
import { instrumentBroker } from '../../../runtime/observability/instrument.ts';
import { brokerUrls } from '../../support/brokers.ts';
import { createOtelHarness, parentSpanId, type OtelHarness } from './otel-harness.ts';
import { uniqueName, waitFor } from './support.ts';

const urls = brokerUrls();
let otel: OtelHarness;
const opened: MessageBroker[] = [];

beforeAll(() => {
  otel = createOtelHarness();
});
afterAll(async () => {
  await otel.shutdown();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.disconnect({ timeoutMs: 2000 }).catch(() => undefined)));
  otel.exporter.reset();
});

const factories: Record<string, { system: string; timeoutMs: number; create(): MessageBroker }> = {
  'redis-pubsub': { system: 'redis', timeoutMs: 5000, create: () => new RedisPubSubClient({ url: urls.redis }) },
  'redis-streams': { system: 'redis', timeoutMs: 5000, create: () => new RedisStreamsClient({ url: urls.redis.replace(/^redis(s?):/, 'redis$1+streams:'), blockMs: 200 }) },
  rabbitmq: { system: 'rabbitmq', timeoutMs: 5000, create: () => new RabbitMQClient({ url: urls.amqp, groupQueueArguments: { 'x-expires': 60_000 } }) },
  kafka: {
    system: 'kafka',
    timeoutMs: 25_000,
    create: () => new KafkaClient({ bootstrapServers: [...urls.kafkaBrokers], clientId: 'contractbus-observability-test', sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, drainTimeoutMs: 2000 }),
  },
};

async function open(name: keyof typeof factories): Promise<MessageBroker> {
  const raw = factories[name]!.create();
  await raw.connect();
  opened.push(raw);
  return instrumentBroker(raw, { tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider, propagator: otel.propagator });
}

describe.each(Object.keys(factories))('trace context over %s', (name) => {
  it('makes the consumer span a child of the producer span of another client', async () => {
    const { system, timeoutMs } = factories[name]!;
    const producer = await open(name);
    const consumer = await open(name);
    const topic = uniqueName(`obs-${name}`);
    const received: Array<Record<string, string>> = [];
    const group = consumer.capabilities.consumerGroups ? uniqueName('g') : undefined;
    await consumer.subscribe(topic, (_message, meta) => {
      received.push({ ...meta.headers });
    }, group === undefined ? {} : { group, startFrom: 'earliest' });
    await producer.publish(topic, { n: 1 }, { correlationId: 'req-42', headers: { tenant: 'acme' } });
    await waitFor(() => received.length === 1 && otel.spans().length === 2, timeoutMs, `delivery on ${name}`);

    const send = otel.span(`send ${topic}`);
    const process = otel.span(`process ${topic}`);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(send.spanContext().traceId);
    expect(parentSpanId(process)).toBe(send.spanContext().spanId);
    expect(received[0]?.traceparent).toBe(`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
    expect(received[0]?.tenant).toBe('acme');
    expect(send.attributes['messaging.system']).toBe(system);
    expect(process.attributes).toMatchObject({ 'messaging.system': system, 'messaging.message.conversation_id': 'req-42', 'messaging.message.id': send.attributes['messaging.message.id'] });
    if (group !== undefined) expect(process.attributes['messaging.consumer.group.name']).toBe(group);
  });
});

describe('one trace across brokers', () => {
  it('RabbitMQ → Kafka → Redis Streams keeps one trace, each hop parented on the last', async () => {
    const rabbit = await open('rabbitmq');
    const kafka = await open('kafka');
    const redis = await open('redis-streams');
    const placed = uniqueName('obs-placed');
    const charged = uniqueName('obs-charged');
    const shipped = uniqueName('obs-shipped');
    let done = false;
    await rabbit.subscribe(placed, (order, meta) => kafka.publish(charged, order, { correlationId: meta.correlationId, key: 'o-1' }).then(() => undefined), { group: uniqueName('billing') });
    await kafka.subscribe(charged, (order, meta) => redis.publish(shipped, order, { correlationId: meta.correlationId }).then(() => undefined), { group: uniqueName('shipping'), startFrom: 'earliest' });
    await redis.subscribe(shipped, () => {
      done = true;
    }, { group: uniqueName('notify'), startFrom: 'earliest' });

    await rabbit.publish(placed, { orderId: 'o-1' }, { correlationId: 'req-x' });
    await waitFor(() => done && otel.spans().length === 6, 30_000, 'the message through three brokers');

    const chain = [`send ${placed}`, `process ${placed}`, `send ${charged}`, `process ${charged}`, `send ${shipped}`, `process ${shipped}`].map((n) => otel.span(n));
    expect(new Set(chain.map((s) => s.spanContext().traceId)).size).toBe(1);
    for (let i = 1; i < chain.length; i++) expect(parentSpanId(chain[i]!), chain[i]!.name).toBe(chain[i - 1]!.spanContext().spanId);
    expect(chain.map((s) => s.attributes['messaging.system'])).toEqual(['rabbitmq', 'rabbitmq', 'kafka', 'kafka', 'redis', 'redis']);
    expect(chain[2]!.attributes['messaging.kafka.message.key']).toBe('o-1');
    expect(chain.every((s) => s.attributes['messaging.message.conversation_id'] === 'req-x')).toBe(true);
  }, 60_000);
});
