/**
 * RabbitMQTransport against a real RabbitMQ on 127.0.0.1:5672: the binding seam on its own
 * (round trip with metadata, groups, patterns, acks, delayed redelivery, unroutable publishes).
 */
import { connect as amqpConnect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER } from '../../../runtime/core/headers.ts';
import type { Delivery } from '../../../runtime/core/transport.ts';
import { RabbitMQTransport } from '../../../runtime/bindings/rabbitmq/transport.ts';
import { UnroutableError } from '../../../runtime/bindings/rabbitmq/publisher.ts';
import { coalesceWrites } from '../../../runtime/bindings/rabbitmq/connection.ts';
import { AMQP_URL, decode, unique, waitFor, wire } from './helpers.ts';

const spec = (topic: string, group?: string, prefetch = 10) => ({ topic, group, prefetch, startFrom: 'earliest' as const });

describe('RabbitMQTransport', () => {
  const transport = new RabbitMQTransport(AMQP_URL);
  beforeAll(() => transport.connect());
  afterAll(() => transport.close());

  it('round-trips payload, headers and metadata through native properties', async () => {
    const topic = unique('rt.orders');
    const got: Delivery[] = [];
    const sub = await transport.consume(spec(topic, 'g1'), async (d) => {
      got.push(d);
      await d.ack();
    });
    const sent = wire(topic, { id: 1, name: 'ä' }, { headers: { tenant: 'acme', [HEADER.traceparent]: '00-abc-def-01' }, correlationId: 'corr-1', key: 'k-1', priority: 3, expiresAt: Date.now() + 60_000 });
    await transport.send(sent, { timeoutMs: 5_000 });
    await waitFor(() => got.length === 1);
    const m = got[0]!.message;
    expect(decode(m)).toEqual({ id: 1, name: 'ä' });
    expect(m.messageId).toBe(sent.messageId);
    expect(m.topic).toBe(topic);
    expect(m.headers).toEqual(sent.headers);
    expect(m.correlationId).toBe('corr-1');
    expect(m.key).toBe('k-1');
    expect(m.priority).toBe(3);
    expect(m.timestamp).toBe(sent.timestamp);
    expect(m.expiresAt).toBe(sent.expiresAt);
    expect(m.contentType).toBe('application/json');
    expect(got[0]!.deliveryCount).toBe(1);
    await sub.close();
  });

  it('fails an unroutable publish with mandatory even though RabbitMQ confirms it; by default only counts it', async () => {
    const topic = unique('nobody.listens');
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } })).rejects.toBeInstanceOf(UnroutableError);
    const before = (await transport.health()).details.unroutable as number;
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000 })).resolves.toEqual({});
    const health = await transport.health();
    expect(health.details.unroutable).toBe(before + 1);
    expect(health.details.lastUnroutable).toBe(`contractbus/${topic}`);
    // The same message id in flight to a routable and an unroutable key: only the unroutable one fails.
    const routable = unique('routable');
    const keep = await transport.consume(spec(routable, 'g'), async (d) => d.ack());
    const shared = { messageId: 'same-id' };
    const [a, b] = await Promise.allSettled([
      transport.send(wire(routable, {}, shared), { timeoutMs: 5_000, amqp: { mandatory: true } }),
      transport.send(wire(topic, {}, shared), { timeoutMs: 5_000, amqp: { mandatory: true } }),
    ]);
    expect([a.status, b.status]).toEqual(['fulfilled', 'rejected']);
    await keep.close();
    // and the channel is still usable afterwards
    const sub = await transport.consume(spec(topic, 'g'), async (d) => d.ack());
    await transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } });
    await sub.close();
  });

  it('fails a publish to a missing exchange with the broker’s reason, fast, and recovers the channel', async () => {
    const topic = unique('missing.exchange');
    const started = Date.now();
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { exchange: unique('no-such-exchange') } })).rejects.toThrow(/NOT_FOUND/);
    expect(Date.now() - started).toBeLessThan(2_000);
    const sub = await transport.consume(spec(topic, 'g'), async (d) => d.ack());
    await transport.send(wire(topic, {}), { timeoutMs: 5_000 });
    // A bad publish among good ones in flight on the same channel: only the bad one fails.
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, () => transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } })),
      transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { exchange: unique('no-such-exchange') } }),
      ...Array.from({ length: 20 }, () => transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } })),
    ]);
    expect(results.filter((r) => r.status === 'rejected').length).toBe(1);
    expect(results[20]?.status).toBe('rejected');
    await sub.close();
  });

  it('lets groups compete and fans out across groups; patterns match', async () => {
    const base = unique('fan');
    const counts = { a1: 0, a2: 0, b: 0, pattern: 0 };
    const subs = await Promise.all([
      transport.consume(spec(`${base}.x`, 'A'), async (d) => { counts.a1++; await d.ack(); }),
      transport.consume(spec(`${base}.x`, 'A'), async (d) => { counts.a2++; await d.ack(); }),
      transport.consume(spec(`${base}.x`, 'B'), async (d) => { counts.b++; await d.ack(); }),
      transport.consume(spec(`${base}.*`, undefined), async (d) => { counts.pattern++; await d.ack(); }),
    ]);
    for (let i = 0; i < 20; i++) await transport.send(wire(`${base}.x`, { i }), { timeoutMs: 5_000 });
    await waitFor(() => counts.a1 + counts.a2 === 20 && counts.b === 20 && counts.pattern === 20);
    expect(counts.a1).toBeGreaterThan(0);
    expect(counts.a2).toBeGreaterThan(0);
    for (const s of subs) await s.close();
  });

  it('redelivers after nack with requeue, and after a delay through a TTL retry queue', async () => {
    const topic = unique('retry');
    const seen: Array<{ count: number; at: number; attemptHeader: string | undefined; headers: Record<string, string> }> = [];
    const sub = await transport.consume(spec(topic, 'g'), async (d) => {
      seen.push({ count: d.deliveryCount, at: Date.now(), attemptHeader: d.message.headers[HEADER.attempt], headers: d.message.headers });
      if (seen.length === 1) await d.nack({ requeue: true });
      else if (seen.length === 2) await d.nack({ requeue: true, delayMs: 300 });
      else await d.ack();
    });
    await transport.send(wire(topic, { x: 1 }), { timeoutMs: 5_000 });
    await waitFor(() => seen.length === 3);
    expect(seen[1]!.count).toBe(2); // immediate requeue: redelivered flag
    expect(seen[2]!.count).toBe(3); // carried in the attempt header through the retry queue
    expect(seen[2]!.attemptHeader).toBe('3');
    expect(Object.keys(seen[2]!.headers).filter((h) => h.startsWith('x-first-death'))).toEqual([]);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(250);
    await sub.close();
  });

  it('keeps messages for a group while it is closed (durable queue)', async () => {
    const topic = unique('durable');
    const first = await transport.consume(spec(topic, 'keep'), async (d) => d.ack());
    await first.close();
    for (let i = 0; i < 5; i++) await transport.send(wire(topic, { i }), { timeoutMs: 5_000 });
    const got: unknown[] = [];
    const second = await transport.consume(spec(topic, 'keep'), async (d) => {
      got.push(decode(d.message));
      await d.ack();
    });
    await waitFor(() => got.length === 5);
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    await second.close();
    await transport.deleteQueue(`keep.${topic}`);
  });

  it('bounds unacked deliveries by prefetch and stops on pause', async () => {
    const topic = unique('prefetch');
    const held: Delivery[] = [];
    const sub = await transport.consume(spec(topic, 'g', 3), async (d) => {
      held.push(d);
    });
    for (let i = 0; i < 10; i++) await transport.send(wire(topic, { i }), { timeoutMs: 5_000 });
    await waitFor(() => held.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(held.length).toBe(3);
    await sub.pause();
    for (const d of held.splice(0)) await d.ack();
    await new Promise((r) => setTimeout(r, 100));
    expect(held.length).toBe(0);
    await sub.resume();
    await waitFor(() => held.length === 3);
    for (const d of held.splice(0)) await d.ack();
    await sub.close();
  });

  it('keeps declaring while a passive check of a missing queue fails at the same time (regression)', async () => {
    const missing = unique('missing.queue');
    const names = [unique('decl.a'), unique('decl.b'), unique('decl.c')];
    const results = await Promise.all([transport.queueDepth(missing), ...names.map((n) => transport.declareQueue(n)), transport.queueDepth(missing)]);
    expect(results[0]).toBeUndefined();
    for (const n of names) await transport.deleteQueue(n);
  });

  it('waits for the channel to drain when the write buffer is full, and confirms everything', async () => {
    const topic = unique('drain');
    const got: string[] = [];
    const sub = await transport.consume(spec(topic, 'g', 50), async (d) => {
      got.push(d.message.messageId);
      await d.ack();
    });
    const before = (await transport.health()).details.writeBufferFull as number;
    // amqplib's per-channel write buffer holds 1 024 frames: 3 000 publishes at once overflow it.
    const messages = Array.from({ length: 3_000 }, (_, i) => wire(topic, { i }));
    await Promise.all(messages.map((m) => transport.send(m, { timeoutMs: 20_000 })));
    expect((await transport.health()).details.writeBufferFull as number).toBeGreaterThan(before);
    await waitFor(() => new Set(got).size === 3_000, 20_000, 'all 3 000 messages');
    await sub.close();
    await transport.deleteQueue(`g.${topic}`);
  });

  it('holds publishes while RabbitMQ blocks the connection (connection.blocked), bounded by the timeout', async () => {
    const topic = unique('blocked');
    const sub = await transport.consume(spec(topic, 'g'), async (d) => d.ack());
    const model = transport.connection.current!;
    // What amqplib emits when RabbitMQ sends connection.blocked (memory or disk alarm).
    model.emit('blocked', 'low on memory');
    const health = await transport.health();
    expect(health.issues.join(' ')).toMatch(/blocked the connection \(low on memory\)/);
    await expect(transport.send(wire(topic, {}), { timeoutMs: 200 })).rejects.toThrow(/blocked by RabbitMQ \(low on memory\)/);
    const waiting = transport.send(wire(topic, { late: true }), { timeoutMs: 5_000 });
    let settled = false;
    void waiting.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    model.emit('unblocked');
    await waiting;
    await sub.close();
  });

  it('re-declares its queue and resumes when someone deletes it under a running subscription (basic.cancel)', async () => {
    const topic = unique('deleted');
    const got: unknown[] = [];
    const sub = await transport.consume(spec(topic, 'g'), async (d) => {
      got.push(decode(d.message));
      await d.ack();
    });
    const raw = await amqpConnect(AMQP_URL);
    const channel = await raw.createChannel();
    await channel.deleteQueue(`g.${topic}`);
    await raw.close();
    await waitFor(async () => (await transport.queueDepth(`g.${topic}`))?.consumerCount === 1, 10_000, 'the consumer to come back');
    await transport.send(wire(topic, { after: 'delete' }), { timeoutMs: 5_000, amqp: { mandatory: true } });
    await waitFor(() => got.length === 1);
    await sub.close();
    await transport.deleteQueue(`g.${topic}`);
  });

  it('batched acks never cover a delivery whose handler has not finished, nor wait for it (out-of-order completion, nacks in between)', async () => {
    const topic = unique('ack.batch');
    const group = 'g';
    const got = new Map<number, Delivery>();
    // prefetch 3: a later delivery only arrives once an earlier one is settled on the broker.
    const first = await transport.consume(spec(topic, group, 3), async (d) => {
      got.set((decode(d.message) as { i: number }).i, d);
    });
    for (let i = 1; i <= 6; i++) await transport.send(wire(topic, { i }), { timeoutMs: 5_000 });
    await waitFor(() => got.size === 3);
    // 1 stays unfinished at the front: the acks behind it must still free prefetch slots.
    await got.get(3)!.ack();
    await got.get(2)!.nack({ requeue: false });
    await waitFor(() => got.size === 5);
    await got.get(5)!.ack();
    await waitFor(() => got.size === 6);
    await got.get(6)!.ack();
    // 1 and 4 are unfinished when the consumer closes: exactly those come back.
    await first.close();
    const again: unknown[] = [];
    const second = await transport.consume(spec(topic, group, 20), async (d) => {
      again.push(decode(d.message));
      await d.ack();
    });
    await waitFor(() => again.length === 2);
    expect(again).toEqual([{ i: 1 }, { i: 4 }]);
    // Settling a delivery of the closed channel is dropped (it was redelivered above), never misapplied.
    await got.get(1)!.ack();
    await got.get(4)!.ack();
    await second.close();
    expect((await transport.queueDepth(`${group}.${topic}`))?.messageCount).toBe(0);
    await transport.deleteQueue(`${group}.${topic}`);
  });

  it('coalesces the frames of a burst into few socket writes (amqplib internals still as coalesceWrites expects), confirming and delivering all', async () => {
    const model = await amqpConnect(AMQP_URL);
    try {
      expect(coalesceWrites(model)).toBe(true);
      const stream = (model as unknown as { connection: { stream: { _writeGeneric: (...args: unknown[]) => unknown } } }).connection.stream;
      let writes = 0;
      const writeGeneric = stream._writeGeneric.bind(stream);
      stream._writeGeneric = (...args: unknown[]) => {
        writes++;
        return writeGeneric(...args);
      };
      const pub = await model.createConfirmChannel();
      const queue = unique('coalesce');
      await pub.assertQueue(queue, { durable: false, autoDelete: false });
      writes = 0;
      for (let i = 0; i < 200; i++) pub.sendToQueue(queue, Buffer.from(JSON.stringify({ i })), { persistent: false });
      await pub.waitForConfirms();
      expect(writes).toBeLessThan(50);
      const got: number[] = [];
      const sub = await model.createChannel();
      await sub.prefetch(50);
      await sub.consume(queue, (msg) => {
        if (!msg) return;
        got.push((JSON.parse(msg.content.toString('utf8')) as { i: number }).i);
        sub.ack(msg);
      });
      await waitFor(() => got.length === 200);
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
      await sub.deleteQueue(queue);
    } finally {
      await model.close();
    }
  });

  it('keeps each publish its own headers when many are sent back to back (the publisher reuses one headers object per set of names)', async () => {
    const topic = unique('headers.burst');
    const got: Delivery[] = [];
    const sub = await transport.consume(spec(topic, 'g', 100), async (d) => {
      got.push(d);
      await d.ack();
    });
    const sent = Array.from({ length: 60 }, (_, i) => wire(topic, { i }, i % 3 === 0 ? { headers: { tenant: `t-${i}`, n: String(i) }, key: `k-${i}` } : i % 3 === 1 ? { headers: { n: String(i) } } : {}));
    await Promise.all(sent.map((m) => transport.send(m, { timeoutMs: 5_000 })));
    await waitFor(() => got.length === sent.length);
    const byId = new Map(got.map((d) => [d.message.messageId, d.message]));
    for (const m of sent) {
      const received = byId.get(m.messageId)!;
      expect(received.headers).toEqual(m.headers);
      expect(received.timestamp).toBe(m.timestamp);
      expect(received.key).toBe(m.key);
    }
    // The caller's message and options are untouched.
    expect(sent[0]!.headers).toEqual({ tenant: 't-0', n: '0' });
    await sub.close();
    await transport.deleteQueue(`g.${topic}`);
  });

  it('reports health with consumers and queue depths', async () => {
    const topic = unique('health');
    const sub = await transport.consume(spec(topic, 'g'), async (d) => d.ack());
    const health = await transport.health();
    expect(health.isHealthy).toBe(true);
    expect(health.details.connection).toBe('connected');
    expect(health.details.queueDepths).toHaveProperty(`g.${topic}`);
    await sub.close();
  });
});
