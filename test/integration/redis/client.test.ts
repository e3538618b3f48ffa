/**
 * The Redis clients end to end through the shared BrokerClient: patterns, poison and failing
 * messages to the dead-letter topic with their reason, retries counted by Redis, connect(url).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { connect } from '../../../runtime/core/connect.ts';
import { HEADER } from '../../../runtime/core/headers.ts';
import { CapabilityError, ConfigurationError } from '../../../runtime/core/errors.ts';
import type { MessageMetadata } from '../../../runtime/core/types.ts';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import { REDIS_URL, unique, waitFor } from './support.ts';

const streamsUrl = REDIS_URL.replace(/^redis(s?):/, 'redis$1+streams:');
const admin = new Redis(REDIS_URL);
const cleanup: string[] = [];
afterAll(async () => {
  if (cleanup.length) await admin.del(...cleanup);
  await admin.quit();
});

const Order = z.object({ orderId: z.string(), total: z.number() });

describe('RedisPubSubClient', () => {
  it('subscribePattern delivers by pattern with the concrete topic in metadata', async () => {
    const client = new RedisPubSubClient(REDIS_URL);
    await client.connect();
    const base = unique('user');
    const seen: Array<{ id: string; topic: string }> = [];
    await client.subscribePattern<{ id: string }>(`${base}.*`, (message, meta) => {
      seen.push({ id: message.id, topic: meta.topic });
    });
    await client.publish(`${base}.created`, { id: 'a' });
    await client.publish(`${base}.deleted.soft`, { id: 'skipped' });
    await client.publish(`${base}.deleted`, { id: 'b' });
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([
      { id: 'a', topic: `${base}.created` },
      { id: 'b', topic: `${base}.deleted` },
    ]);
    await expect(client.subscribePattern(`${base}.exact`, () => undefined)).rejects.toThrow(ConfigurationError);
    await client.disconnect();
  });

  it('a poison message goes to the dead-letter topic with the validation issues as reason, and is kept in a stream', async () => {
    const client = new RedisPubSubClient({ url: REDIS_URL, maxRetries: 2 });
    await client.connect();
    const topic = unique('orders');
    const dlq = `${topic}.dlq`;
    cleanup.push(dlq);
    const dead: Array<{ payload: unknown; meta: MessageMetadata }> = [];
    await client.subscribe(dlq, (payload, meta) => {
      dead.push({ payload, meta });
    });
    const handled: unknown[] = [];
    await client.subscribe(topic, (order) => {
      handled.push(order);
    }, { validate: (p) => Order.parse(p) });
    await client.publish(topic, { orderId: 'o-1', total: 'lots' });
    await client.publish(topic, { orderId: 'o-2', total: 2 });
    await waitFor(() => dead.length === 1 && handled.length === 1, 5000, 'dead letter and good message');
    expect(dead[0]?.payload).toEqual({ orderId: 'o-1', total: 'lots' });
    expect(dead[0]?.meta.headers[HEADER.dlqReason]).toMatch(/validation/);
    expect(dead[0]?.meta.headers[HEADER.dlqErrorMessage]).toMatch(/total/);
    expect(dead[0]?.meta.headers[HEADER.dlqOriginalTopic]).toBe(topic);
    expect(await admin.xlen(dlq)).toBe(1);
    expect(client.getMetrics().deadLettered).toBe(1);
    await client.disconnect();
  });

  it('retries a failing handler in process, then dead-letters with the error and attempts', async () => {
    const client = new RedisPubSubClient({ url: REDIS_URL });
    await client.connect();
    const topic = unique('flaky');
    cleanup.push(`${topic}.dlq`);
    const dead: MessageMetadata[] = [];
    await client.subscribe(`${topic}.dlq`, (_p, meta) => {
      dead.push(meta);
    });
    let calls = 0;
    await client.subscribe(topic, () => {
      calls += 1;
      throw new Error('payment service down');
    }, { maxRetries: 2, retryDelay: 10, jitter: 0 });
    await client.publish(topic, { n: 1 });
    await waitFor(() => dead.length === 1, 5000, 'dead letter');
    expect(calls).toBe(3);
    expect(dead[0]?.headers[HEADER.dlqAttempts]).toBe('3');
    expect(dead[0]?.headers[HEADER.dlqErrorMessage]).toMatch(/payment service down/);
    await client.disconnect();
  });

  it('says at subscribe time that Pub/Sub has no consumer groups', async () => {
    const client = new RedisPubSubClient(REDIS_URL);
    await client.connect();
    await expect(client.subscribe('x', () => undefined, { group: 'workers' })).rejects.toThrow(CapabilityError);
    expect(client.capabilities.deliveryGuarantee).toBe('at-most-once');
    await client.disconnect();
  });

  it('refuses a Streams URL, pointing at the right class', () => {
    expect(() => new RedisPubSubClient('redis+streams://127.0.0.1:6379')).toThrow(/Use RedisStreamsClient/);
  });
});

describe('RedisStreamsClient', () => {
  it('retries through Redis (pending list + delivery count), then dead-letters with the reason', async () => {
    const client = new RedisStreamsClient({ url: streamsUrl, claimIdleMs: 5000 });
    await client.connect();
    const topic = unique('invoices');
    cleanup.push(topic, `${topic}.dlq`);
    const attempts: number[] = [];
    await client.subscribe(topic, (_m, meta) => {
      attempts.push(meta.attempt);
      throw new Error('ledger locked');
    }, { group: 'billing', maxRetries: 2, retryDelay: 20, jitter: 0 });
    await client.publish(topic, { invoice: 7 });
    const dead: MessageMetadata[] = [];
    await client.subscribe(`${topic}.dlq`, (_p, meta) => {
      dead.push(meta);
    }, { group: 'ops' });
    await waitFor(() => dead.length === 1, 10_000, 'dead letter');
    expect(attempts).toEqual([1, 2, 3]);
    expect(dead[0]?.headers[HEADER.dlqReason]).toMatch(/ledger locked|3 attempts/);
    expect(dead[0]?.headers[HEADER.dlqAttempts]).toBe('3');
    await waitFor(async () => Number((await admin.xpending(topic, 'billing'))[0]) === 0, 5000, 'original acked');
    await client.disconnect();
  });

  it('a poison message never blocks the stream: it is dead-lettered and the next one handled', async () => {
    const client = new RedisStreamsClient({ url: streamsUrl });
    await client.connect();
    const topic = unique('poison');
    cleanup.push(topic, `${topic}.dlq`);
    const good: unknown[] = [];
    await client.subscribe(topic, (order) => {
      good.push(order);
    }, { group: 'g', validate: (p) => Order.parse(p) });
    await admin.xadd(topic, '*', 'data', 'not json at all{');
    await client.publish(topic, { orderId: 'ok', total: 1 });
    await waitFor(() => good.length === 1, 5000, 'good message');
    await waitFor(async () => (await admin.xlen(`${topic}.dlq`)) === 1, 5000, 'poison dead-lettered');
    const [entry] = await admin.xrange(`${topic}.dlq`, '-', '+');
    const fields = entry?.[1] ?? [];
    expect(fields[fields.indexOf(HEADER.dlqReason) + 1]).toMatch(/JSON|malformed/i);
    await client.disconnect();
  });

  it('rejects a handler timeout that would let other consumers reclaim a running message', async () => {
    const client = new RedisStreamsClient({ url: streamsUrl, claimIdleMs: 1000 });
    await client.connect();
    await expect(client.subscribe('t', () => undefined, { handlerTimeoutMs: 5000 })).rejects.toThrow(/below claimIdleMs/);
    await client.disconnect();
  });
});

describe('reply shapes', () => {
  for (const [label, options] of [
    ['RESP2', { protocol: 2 }],
    ['RESP3 with replyMapping resp3', { protocol: 3, replyMapping: 'resp3' }],
  ] as const) {
    it(`Streams retries, health and Pub/Sub patterns work over ${label}`, async () => {
      const borrowed = new Redis(REDIS_URL, options);
      const streams = new RedisStreamsClient({ client: borrowed, blockMs: 200 });
      await streams.connect();
      const topic = unique('shapes');
      cleanup.push(topic);
      const attempts: number[] = [];
      await streams.subscribe(topic, (_m, meta) => {
        attempts.push(meta.attempt);
        if (meta.attempt < 2) throw new Error('once more');
      }, { group: 'g', retryDelay: 10 });
      await streams.publish(topic, { n: 1 });
      await waitFor(() => attempts.length === 2);
      await waitFor(async () => {
        const subs = ((await streams.healthCheck()).details.transport as { subscriptions: Array<{ pending?: number; lag?: number }> }).subscriptions;
        return subs[0]?.pending === 0 && subs[0]?.lag === 0;
      }, 5000, 'pending and lag read from XINFO');
      await streams.disconnect();

      const pubsub = new RedisPubSubClient({ redisOptions: options });
      await pubsub.connect();
      const seen: string[] = [];
      await pubsub.subscribePattern(`${topic}.*`, (_m, meta) => void seen.push(meta.topic));
      await pubsub.publish(`${topic}.x`, 1);
      await waitFor(() => seen.length === 1);
      await pubsub.disconnect();
      await borrowed.quit();
    });
  }
});

describe('connect(url)', () => {
  it('redis:// gives Pub/Sub, redis+streams:// gives Streams', async () => {
    const pubsub = await connect(REDIS_URL);
    const streams = await connect(streamsUrl);
    expect(pubsub).toBeInstanceOf(RedisPubSubClient);
    expect(pubsub.name).toBe('redis-pubsub');
    expect(streams).toBeInstanceOf(RedisStreamsClient);
    expect(streams.capabilities).toMatchObject({ deliveryGuarantee: 'at-least-once', durable: true, consumerGroups: true });
    expect((await streams.healthCheck()).isHealthy).toBe(true);
    await pubsub.disconnect();
    await streams.disconnect();
  });

  it('works on an existing ioredis instance, which disconnect() leaves open', async () => {
    const mine = new Redis(REDIS_URL);
    const client = new RedisStreamsClient(mine);
    await client.connect();
    const topic = unique('borrowed');
    cleanup.push(topic);
    const seen: unknown[] = [];
    await client.subscribe(topic, (m) => {
      seen.push(m);
    });
    await client.publish(topic, { hello: 'world' });
    await waitFor(() => seen.length === 1);
    await client.disconnect();
    expect(await mine.ping()).toBe('PONG');
    await mine.quit();
  });
});
