/**
 * Redis Pub/Sub transport against the real Redis: patterns, fan-out, bounded buffering, and
 * gaps reported (never silent) when Redis cuts a subscriber off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisPubSubTransport } from '../../../runtime/bindings/redis/pubsub-transport.ts';
import type { PubSubGap } from '../../../runtime/bindings/redis/options.ts';
import type { Delivery, WireMessage } from '../../../runtime/core/transport.ts';
import { BufferFullError, ConnectionError } from '../../../runtime/core/errors.ts';
import { REDIS_URL, unique, waitFor, usePrivateRedis } from './support.ts';

const encoder = new TextEncoder();

function wire(topic: string, payload: unknown, headers: Record<string, string> = {}): WireMessage {
  return { messageId: crypto.randomUUID(), topic, body: encoder.encode(JSON.stringify(payload)), headers, contentType: 'application/json', timestamp: Date.now() };
}

function collect(into: Delivery[], settle = true): (d: Delivery) => Promise<void> {
  return async (d) => {
    into.push(d);
    if (settle) await d.ack();
  };
}

describe('Redis Pub/Sub transport', () => {
  const transport = new RedisPubSubTransport({ url: REDIS_URL });
  beforeAll(() => transport.connect());
  afterAll(() => transport.close());

  it('delivers by pattern: * is one segment, # any number, both filtered exactly', async () => {
    const base = unique('user');
    const star: Delivery[] = [];
    const hash: Delivery[] = [];
    const exact: Delivery[] = [];
    const subs = [
      await transport.consume({ topic: `${base}.*`, group: undefined, prefetch: 10, startFrom: 'latest' }, collect(star)),
      await transport.consume({ topic: `${base}.#`, group: undefined, prefetch: 10, startFrom: 'latest' }, collect(hash)),
      await transport.consume({ topic: `${base}.created`, group: undefined, prefetch: 10, startFrom: 'latest' }, collect(exact)),
    ];
    for (const topic of [`${base}.created`, `${base}.a.b`, base, `${base}x.created`]) {
      await transport.send(wire(topic, { topic }, { h: topic }), { timeoutMs: 2000 });
    }
    await waitFor(() => hash.length === 3 && star.length === 1 && exact.length === 1, 5000, 'pattern deliveries');
    expect(star.map((d) => d.message.topic)).toEqual([`${base}.created`]);
    expect(hash.map((d) => d.message.topic).sort()).toEqual([base, `${base}.a.b`, `${base}.created`].sort());
    expect(exact[0]?.message.headers).toEqual({ h: `${base}.created` });
    expect(exact[0]?.deliveryCount).toBe(1);
    for (const s of subs) await s.close();
  });

  it('coalesces the publishes of one tick into one PUBLISH (a CloudEvents batch), in order, each settled', async () => {
    const topic = unique('batch');
    const got: Delivery[] = [];
    const byPattern: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 500, startFrom: 'latest' }, collect(got));
    const patternSub = await transport.consume({ topic: `${topic.split('.')[0]}.#`, group: undefined, prefetch: 500, startFrom: 'latest' }, collect(byPattern));
    const spy = new Redis(REDIS_URL);
    const raw: string[] = [];
    spy.on('message', (_channel: string, text: string) => raw.push(text));
    await spy.subscribe(topic);
    // 300 in one tick: more than one batch holds (256), so two PUBLISHes.
    const sent = Array.from({ length: 300 }, (_, i) => wire(topic, { i }, { n: String(i) }));
    const outcomes = await Promise.all(sent.map((m) => transport.send(m, { timeoutMs: 5000 })));
    expect(outcomes).toHaveLength(300);
    await waitFor(() => got.length === 300 && byPattern.length >= 300 && raw.length >= 2, 5000, 'batched deliveries');
    expect(got.map((d) => d.message.messageId)).toEqual(sent.map((m) => m.messageId));
    expect(got.map((d) => JSON.parse(new TextDecoder().decode(d.message.body)) as unknown)).toEqual(sent.map((_, i) => ({ i })));
    expect(got[299]?.message.headers).toEqual({ n: '299' });
    expect(byPattern.filter((d) => d.message.topic === topic).map((d) => d.message.messageId)).toEqual(sent.map((m) => m.messageId));
    // What any CloudEvents reader sees on the channel: two JSON arrays of structured events.
    expect(raw).toHaveLength(2);
    const events = raw.flatMap((text) => JSON.parse(text) as Array<{ specversion: string; id: string; data: unknown }>);
    expect(events.map((e) => e.id)).toEqual(sent.map((m) => m.messageId));
    expect(events[0]).toMatchObject({ specversion: '1.0', data: { i: 0 } });
    // A lone publish is a plain event.
    const lone = wire(topic, { lone: true });
    await transport.send(lone, { timeoutMs: 2000 });
    await waitFor(() => raw.length === 3, 5000, 'lone publish');
    expect(JSON.parse(raw[2] ?? '')).toMatchObject({ id: lone.messageId, data: { lone: true } });
    await Promise.all([sub.close(), patternSub.close(), spy.quit()]);
  });

  it('batchPublishes: false sends one event per PUBLISH for subscribers that read single events', async () => {
    const single = new RedisPubSubTransport({ url: REDIS_URL, batchPublishes: false });
    await single.connect();
    const topic = unique('nobatch');
    const spy = new Redis(REDIS_URL);
    const raw: string[] = [];
    spy.on('message', (_channel: string, text: string) => raw.push(text));
    await spy.subscribe(topic);
    await Promise.all(Array.from({ length: 20 }, (_, i) => single.send(wire(topic, { i }), { timeoutMs: 2000 })));
    await waitFor(() => raw.length === 20, 5000, 'single events');
    expect(raw.map((text) => (JSON.parse(text) as { data: { i: number } }).data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await Promise.all([single.close(), spy.quit()]);
  });

  it('fans out to every subscription of a channel and stops after close', async () => {
    const topic = unique('fanout');
    const a: Delivery[] = [];
    const b: Delivery[] = [];
    const subA = await transport.consume({ topic, group: undefined, prefetch: 10, startFrom: 'latest' }, collect(a));
    const subB = await transport.consume({ topic, group: undefined, prefetch: 10, startFrom: 'latest' }, collect(b));
    await transport.send(wire(topic, 1), { timeoutMs: 2000 });
    await waitFor(() => a.length === 1 && b.length === 1);
    await subA.close();
    await transport.send(wire(topic, 2), { timeoutMs: 2000 });
    await waitFor(() => b.length === 2);
    expect(a).toHaveLength(1);
    await subB.close();
  });

  it('keeps prefetch unsettled deliveries at most, buffers a bounded number, counts the drops', async () => {
    const small = new RedisPubSubTransport({ url: REDIS_URL, maxBufferedPerSubscription: 5 });
    await small.connect();
    const topic = unique('bounded');
    const held: Delivery[] = [];
    const sub = await small.consume({ topic, group: undefined, prefetch: 2, startFrom: 'latest' }, collect(held, false));
    for (let i = 0; i < 20; i++) await small.send(wire(topic, i), { timeoutMs: 2000 });
    await waitFor(async () => ((await small.health()).details.subscriptions as Array<{ dropped: number }>)[0]?.dropped === 13, 5000, '13 drops');
    expect(held).toHaveLength(2);
    const health = await small.health();
    expect(health.issues.join('\n')).toMatch(/dropped 13 messages/);
    for (const d of held.splice(0)) await d.ack();
    await waitFor(() => held.length === 2, 5000, 'next two after acks');
    expect(JSON.parse(new TextDecoder().decode(held[0]?.message.body))).toBe(2);
    await sub.close();
    await small.close();
  });

  it('redelivers a nacked message in process with a higher delivery count', async () => {
    const topic = unique('nack');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 1, startFrom: 'latest' }, async (d) => {
      seen.push(d);
      if (d.deliveryCount === 1) await d.nack({ requeue: true, delayMs: 20 });
      else await d.ack();
    });
    await transport.send(wire(topic, 'x'), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 2);
    expect(seen.map((d) => d.deliveryCount)).toEqual([1, 2]);
    await sub.close();
  });

  it('a dead letter is published and also kept in a stream of the same name, so it outlives the moment', async () => {
    const dlq = unique('orders.dlq');
    const live: Delivery[] = [];
    const sub = await transport.consume({ topic: dlq, group: undefined, prefetch: 5, startFrom: 'latest' }, collect(live));
    const receipt = await transport.send(wire(dlq, { orderId: 'x' }, { 'x-contractbus-dlq-reason': 'validation failed: total: expected number' }), { timeoutMs: 2000 });
    expect(receipt.offset).toMatch(/^\d+-\d+$/);
    await waitFor(() => live.length === 1);
    const admin = new Redis(REDIS_URL);
    const entries = await admin.xrange(dlq, '-', '+');
    expect(entries).toHaveLength(1);
    const event = JSON.parse(entries[0]?.[1][1] ?? '{}') as { headers: Record<string, string>; data: unknown };
    expect(event.headers['x-contractbus-dlq-reason']).toMatch(/validation failed/);
    expect(event.data).toEqual({ orderId: 'x' });
    await admin.del(dlq);
    await admin.quit();
    await sub.close();
  });

  it('counts messages published while nobody was subscribed (lost by design, but visible)', async () => {
    const quiet = new RedisPubSubTransport({ url: REDIS_URL });
    await quiet.connect();
    await quiet.send(wire(unique('nobody'), 1), { timeoutMs: 2000 });
    expect((await quiet.health()).details.publishedWithNoSubscriber).toBe(1);
    await quiet.close();
  });

  it('declares at-most-once', () => {
    expect(transport.capabilities).toMatchObject({ deliveryGuarantee: 'at-most-once', durable: false, consumerGroups: false, patternSubscribe: true, redeliveryOnCrash: false });
  });
});

describe('Redis Pub/Sub gaps (private redis-server)', () => {
  const server = usePrivateRedis('redis-pubsub-gaps', { args: ['--save', '', '--appendonly', 'no'] });

  it('health shows how full the subscriber output buffer is against the pubsub limit', async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    await admin.config('SET', 'client-output-buffer-limit', 'pubsub 64mb 16mb 60');
    const transport = new RedisPubSubTransport({ url: server.url });
    await transport.connect();
    const sub = await transport.consume({ topic: unique('watched'), group: undefined, prefetch: 10, startFrom: 'latest' }, async (d) => d.ack());
    const details = (await transport.health()).details;
    expect(details.subscriberOutputBuffer).toEqual({ bytes: expect.any(Number), limitBytes: 16 * 1024 * 1024 });
    await sub.close();
    await transport.close();
    await admin.quit();
  });

  it('a subscriber cut off by client-output-buffer-limit reconnects, resubscribes and reports the gap', async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    await admin.config('SET', 'client-output-buffer-limit', 'pubsub 64kb 32kb 1');
    const gaps: PubSubGap[] = [];
    const transport = new RedisPubSubTransport({ url: server.url, reconnectDelay: 20, onGap: (g) => gaps.push(g) });
    await transport.connect();
    const topic = unique('slow');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 100, startFrom: 'latest' }, collect(seen));
    // 2 MB to one subscriber inside one script: Redis cannot flush meanwhile, so the buffer passes the hard limit.
    await admin.eval("for i=1,200 do redis.call('PUBLISH', KEYS[1], string.rep('x', 10000)) end", 1, topic);
    await waitFor(() => gaps.length === 1, 10_000, 'gap report');
    expect(gaps[0]?.subscriptions).toContain(topic);
    expect(transport.gapCount).toBe(1);
    const health = await transport.health();
    expect(health.issues.join('\n')).toMatch(/cut off .* were lost \(at-most-once\)/);
    expect(health.details.gaps).toBe(1);
    // Resubscribed: new messages flow again.
    await waitFor(async () => {
      await transport.send(wire(topic, 'after'), { timeoutMs: 2000 });
      return seen.some((d) => d.message.contentType === 'application/json');
    }, 10_000, 'delivery after resubscribe');
    await sub.close();
    await transport.close();
    await admin.quit();
  });

  it('while Redis is down: publishes wait in a bounded buffer, past it they fail fast naming Redis and what to do', async () => {
    const buffered = new RedisPubSubTransport({ url: server.url, reconnectDelay: 50, publishBufferSize: 1 });
    const failFast = new RedisPubSubTransport({ url: server.url, reconnectDelay: 50, publishBufferSize: 0 });
    await buffered.connect();
    await failFast.connect();
    await server.kill();
    await waitFor(() => buffered.connections.status !== 'ready' && failFast.connections.status !== 'ready', 5000, 'disconnect noticed');

    const started = Date.now();
    const refused = await failFast.send(wire('down.topic', 0), { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectionError);
    expect(String((refused as Error).message)).toMatch(new RegExp(`Redis: publish to "down.topic" failed: redis://127.0.0.1:${server.port}/0 is not connected.*retry later`));

    const waiting = buffered.send(wire('down.topic', 1), { timeoutMs: 10_000 });
    const full = await buffered.send(wire('down.topic', 2), { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(BufferFullError);
    expect(String((full as Error).message)).toMatch(/Redis: publish to "down.topic" refused: .* unreachable and 1 publishes .* already wait.*publishBufferSize/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await buffered.health()).isHealthy).toBe(false);

    await server.start();
    await expect(waiting).resolves.toBeDefined();
    await waitFor(async () => (await failFast.health()).isHealthy, 10_000, 'reconnect');
    await failFast.send(wire('down.topic', 3), { timeoutMs: 2000 });
    await buffered.close();
    await failFast.close();
  });
});
