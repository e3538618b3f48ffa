/**
 * Redis Streams transport against the real Redis: consumer groups (competing and fan-out),
 * private groups, startFrom, nack/requeue with Redis's delivery count, reclaim of idle pending
 * entries, NOGROUP recovery, trimming, health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStreamsTransport } from '../../../runtime/bindings/redis/streams-transport.ts';
import type { Delivery, WireMessage } from '../../../runtime/core/transport.ts';
import { REDIS_URL, unique, waitFor, usePrivateRedis } from './support.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function wire(topic: string, payload: unknown, headers: Record<string, string> = {}): WireMessage {
  return { messageId: crypto.randomUUID(), topic, body: encoder.encode(JSON.stringify(payload)), headers, contentType: 'application/json', timestamp: Date.now() };
}

function payloadOf(d: Delivery): unknown {
  return JSON.parse(decoder.decode(d.message.body));
}

function collect(into: Delivery[]): (d: Delivery) => Promise<void> {
  return async (d) => {
    into.push(d);
    await d.ack();
  };
}

describe('Redis Streams transport', () => {
  const transport = new RedisStreamsTransport({ url: REDIS_URL, claimIdleMs: 400, blockMs: 500 });
  const admin = new Redis(REDIS_URL);
  const streams: string[] = [];
  const topicFor = (prefix: string): string => {
    const name = unique(prefix);
    streams.push(name);
    return name;
  };
  beforeAll(() => transport.connect());
  afterAll(async () => {
    await transport.close();
    if (streams.length) await admin.del(...streams);
    await admin.quit();
  });

  it('reads ahead on a large prefetch: a backlog arrives once each, in order, never more than prefetch in hand; close mid-drain hands the rest back', async () => {
    const topic = topicFor('ahead');
    const total = 1_500;
    for (let i = 0; i < total; i += 250) {
      await Promise.all(Array.from({ length: Math.min(250, total - i) }, (_, j) => transport.send(wire(topic, { n: i + j }), { timeoutMs: 5_000 })));
    }
    const group = unique('g');
    const seen: number[] = [];
    let inHand = 0;
    let maxInHand = 0;
    const held: Delivery[] = [];
    // Synchronous acks for most entries, a few held back: the read-ahead must still respect prefetch.
    const sub = await transport.consume({ topic, group, prefetch: 64, startFrom: 'earliest' }, async (d) => {
      seen.push((payloadOf(d) as { n: number }).n);
      inHand++;
      maxInHand = Math.max(maxInHand, inHand);
      if (seen.length % 100 === 0) {
        held.push(d);
        if (held.length === 5) {
          for (const h of held.splice(0)) {
            inHand--;
            void h.ack();
          }
        }
        return;
      }
      // Settled (its slot free) once ack is called; the XACK's reply comes later.
      inHand--;
      await d.ack();
    });
    await waitFor(() => seen.length >= 700);
    await sub.close();
    for (const h of held.splice(0)) await h.ack();
    expect(maxInHand).toBeGreaterThan(1);
    // Everything not handled before the close is still pending for the group, nothing lost.
    const rest: number[] = [];
    const again = await transport.consume({ topic, group, prefetch: 64, startFrom: 'earliest' }, async (d) => {
      rest.push((payloadOf(d) as { n: number }).n);
      await d.ack();
    });
    await waitFor(() => new Set([...seen, ...rest]).size === total, 20_000, 'every entry handled');
    await again.close();
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    expect(maxInHand).toBeLessThanOrEqual(64);
  });

  it('round-trips payload, headers and metadata; the receipt is the entry id', async () => {
    const topic = topicFor('rt');
    const sent = { ...wire(topic, { a: 1 }, { 'x-custom': 'v', traceparent: '00-abc-def-01' }), correlationId: 'c-1', key: 'k-1', priority: 3, expiresAt: Date.now() + 60_000 };
    const receipt = await transport.send(sent, { timeoutMs: 2000 });
    expect(receipt.offset).toMatch(/^\d+-\d+$/);
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'earliest' }, collect(seen));
    await waitFor(() => seen.length === 1);
    const got = seen[0]?.message as WireMessage;
    // A fresh message's time is the entry id's (when Redis appended it): the publish time, give or take a few ms.
    expect({ ...got, body: decoder.decode(got.body), timestamp: 0 }).toEqual({ ...sent, body: '{"a":1}', timestamp: 0 });
    expect(Math.abs(got.timestamp - sent.timestamp)).toBeLessThanOrEqual(100);
    expect(got.timestamp).toBe(Number(receipt.offset?.split('-')[0]));
    expect(seen[0]?.deliveryCount).toBe(1);
    await sub.close();
  });

  it('appends a tick of publishes in one script call: every entry its own id, in order, shapes mixed', async () => {
    const topic = topicFor('batch');
    // 300 in one tick (more than one batch holds), some with headers (another entry shape) in between.
    const sent = Array.from({ length: 300 }, (_, i) => wire(topic, { i }, i % 50 === 7 ? { 'x-odd': String(i) } : {}));
    const receipts = await Promise.all(sent.map((m) => transport.send(m, { timeoutMs: 5000 })));
    const entries = (await admin.xrange(topic, '-', '+')) as Array<[string, string[]]>;
    expect(entries.map(([id]) => id)).toEqual(receipts.map((r) => r.offset));
    expect(entries.map(([, fields]) => JSON.parse(fields.at(-1) ?? '') as unknown)).toEqual(sent.map((_, i) => ({ i })));
    expect(entries.map(([, fields]) => fields[1])).toEqual(sent.map((m) => m.messageId));
    expect(entries[7]?.[1]).toEqual(['ce_id', sent[7]?.messageId, 'x-odd', '7', 'data', '{"i":7}']);
  });

  it('a copy of an older message (a dead letter, a replay) keeps its own time exactly', async () => {
    const topic = topicFor('old');
    const sent = { ...wire(topic, { a: 1 }), timestamp: Date.now() - 3_600_000 };
    await transport.send(sent, { timeoutMs: 2000 });
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'earliest' }, collect(seen));
    await waitFor(() => seen.length === 1);
    expect(seen[0]?.message.timestamp).toBe(sent.timestamp);
    await sub.close();
  });

  it('competing consumers in one group share the stream, each entry handled once', async () => {
    const topic = topicFor('compete');
    const group = unique('g');
    const a: Delivery[] = [];
    const b: Delivery[] = [];
    const subA = await transport.consume({ topic, group, prefetch: 2, startFrom: 'earliest' }, collect(a));
    const subB = await transport.consume({ topic, group, prefetch: 2, startFrom: 'earliest' }, collect(b));
    for (let i = 0; i < 40; i++) await transport.send(wire(topic, i), { timeoutMs: 2000 });
    await waitFor(() => a.length + b.length === 40, 10_000, '40 deliveries');
    const all = [...a, ...b].map(payloadOf).sort((x, y) => Number(x) - Number(y));
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    await subA.close();
    await subB.close();
    const groups = (await admin.xinfo('GROUPS', topic)) as unknown[];
    expect(groups).toHaveLength(1); // a named group outlives its subscriptions
  });

  it('distinct groups and group-less subscriptions each get every entry; private groups vanish on close', async () => {
    const topic = topicFor('fanout');
    const g1: Delivery[] = [];
    const g2: Delivery[] = [];
    const p1: Delivery[] = [];
    const subs = [
      await transport.consume({ topic, group: unique('g1'), prefetch: 5, startFrom: 'earliest' }, collect(g1)),
      await transport.consume({ topic, group: unique('g2'), prefetch: 5, startFrom: 'earliest' }, collect(g2)),
      await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'earliest' }, collect(p1)),
    ];
    for (let i = 0; i < 5; i++) await transport.send(wire(topic, i), { timeoutMs: 2000 });
    await waitFor(() => g1.length === 5 && g2.length === 5 && p1.length === 5);
    for (const s of subs) await s.close();
    const groups = ((await admin.xinfo('GROUPS', topic)) as unknown[][]).map((g) => String(g[1]));
    expect(groups.some((name) => name.startsWith('contractbus.private.'))).toBe(false);
    expect(groups).toHaveLength(2);
  });

  it("startFrom 'latest' skips what was there, 'earliest' reads it", async () => {
    const topic = topicFor('start');
    await transport.send(wire(topic, 'old'), { timeoutMs: 2000 });
    const latest: Delivery[] = [];
    const earliest: Delivery[] = [];
    const subL = await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'latest' }, collect(latest));
    const subE = await transport.consume({ topic, group: undefined, prefetch: 5, startFrom: 'earliest' }, collect(earliest));
    await transport.send(wire(topic, 'new'), { timeoutMs: 2000 });
    await waitFor(() => earliest.length === 2 && latest.length === 1);
    expect(latest.map(payloadOf)).toEqual(['new']);
    expect(earliest.map(payloadOf)).toEqual(['old', 'new']);
    await subL.close();
    await subE.close();
  });

  it('nack with requeue keeps the entry pending and redelivers it after delayMs with the delivery count Redis keeps', async () => {
    const topic = topicFor('nack');
    const group = unique('g');
    const seen: Array<{ count: number; at: number }> = [];
    const sub = await transport.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, async (d) => {
      seen.push({ count: d.deliveryCount, at: Date.now() });
      if (d.deliveryCount < 3) await d.nack({ requeue: true, delayMs: 100 });
      else await d.ack();
    });
    await transport.send(wire(topic, 'retry-me'), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 3, 5000, 'three deliveries');
    expect(seen.map((s) => s.count)).toEqual([1, 2, 3]);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(95);
    await waitFor(async () => Number((await admin.xpending(topic, group))[0]) === 0, 5000, 'pending list empty');
    await sub.close();
  });

  it('nack without requeue removes the entry from the pending list', async () => {
    const topic = topicFor('drop');
    const group = unique('g');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, async (d) => {
      seen.push(d);
      await d.nack({ requeue: false });
    });
    await transport.send(wire(topic, 'x'), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 1);
    await waitFor(async () => Number((await admin.xpending(topic, group))[0]) === 0);
    // ack after nack is a no-op (mutually exclusive, idempotent)
    await seen[0]?.ack();
    await sub.close();
  });

  it('an entry left pending by a consumer that stopped answering is reclaimed by another with XAUTOCLAIM', async () => {
    const topic = topicFor('claim');
    const group = unique('g');
    const stuck: Delivery[] = [];
    const hung = await transport.consume({ topic, group, prefetch: 1, startFrom: 'earliest' }, async (d) => {
      stuck.push(d); // never settles: a hung handler
    });
    await transport.send(wire(topic, 'important'), { timeoutMs: 2000 });
    await waitFor(() => stuck.length === 1);
    const rescued: Delivery[] = [];
    const other = new RedisStreamsTransport({ url: REDIS_URL, claimIdleMs: 300, blockMs: 200 });
    await other.connect();
    const sub = await other.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, collect(rescued));
    await waitFor(() => rescued.length === 1, 5000, 'reclaimed delivery');
    expect(payloadOf(rescued[0] as Delivery)).toBe('important');
    expect(rescued[0]?.deliveryCount).toBe(2);
    const health = await other.health();
    expect((health.details.subscriptions as Array<{ reclaimed: number }>)[0]?.reclaimed).toBe(1);
    await sub.close();
    await other.close();
    await hung.close();
  });

  it('recreates its group when Redis lost the stream (NOGROUP) and says so in health', async () => {
    const topic = topicFor('nogroup');
    const group = unique('g');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, collect(seen));
    await transport.send(wire(topic, 1), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 1);
    await admin.del(topic); // what a restart without persistence looks like to a consumer
    await transport.send(wire(topic, 2), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 2, 10_000, 'delivery after NOGROUP');
    const health = await transport.health();
    expect(health.issues.join('\n')).toMatch(/vanished and was recreated 1 time/);
    await sub.close();
  });

  it('a private group left behind by a dead process is destroyed by the next private subscription once stale', async () => {
    const topic = topicFor('sweep');
    const dead = `contractbus.private.${Date.now() - 10_000}.dead`;
    const young = `contractbus.private.${Date.now() + 60_000}.starting`;
    await admin.xgroup('CREATE', topic, dead, '0', 'MKSTREAM');
    await admin.xgroup('CREATE', topic, young, '0');
    await admin.xgroup('CREATE', topic, 'named-group', '0');
    const sweeper = new RedisStreamsTransport({ url: REDIS_URL, privateGroupTtlMs: 300, blockMs: 100 });
    await sweeper.connect();
    const names = async (): Promise<string[]> => ((await admin.xinfo('GROUPS', topic)) as unknown[][]).map((g) => String(g[1]));
    const live = await sweeper.consume({ topic, group: undefined, prefetch: 1, startFrom: 'latest' }, async (d) => d.ack());
    expect(await names()).not.toContain(dead); // swept while subscribing
    const liveGroup = (await names()).find((n) => n.startsWith('contractbus.private.') && n !== young);
    // Old enough to be swept, but a connection still reads it: kept.
    await waitFor(() => Date.now() - Number(liveGroup?.split('.')[2]) > 400, 2000, 'live group older than the TTL');
    const second = await sweeper.consume({ topic, group: undefined, prefetch: 1, startFrom: 'latest' }, async (d) => d.ack());
    const left = await names();
    expect(left).toContain(young);
    expect(left).toContain('named-group');
    expect(left).toContain(liveGroup);
    expect(left.filter((n) => n.startsWith('contractbus.private.') && n !== young)).toHaveLength(2);
    await live.close();
    await second.close();
    await sweeper.close();
    expect((await names()).sort()).toEqual(['named-group', young].sort());
  });

  it('consumers of exited processes (nothing pending, long idle) are removed from a named group; one holding entries never is', async () => {
    const topic = topicFor('consumers');
    const group = unique('g');
    await admin.xgroup('CREATE', topic, group, '0', 'MKSTREAM');
    await admin.xgroup('CREATECONSUMER', topic, group, 'exited-run');
    await admin.xadd(topic, '*', 'data', '"held"');
    await admin.xreadgroup('GROUP', group, 'crashed-run', 'COUNT', 1, 'STREAMS', topic, '>');
    const consumerNames = async (): Promise<string[]> => ((await admin.xinfo('CONSUMERS', topic, group)) as unknown[][]).map((c) => String(c[1]));
    await waitFor(async () => {
      const rows = (await admin.xinfo('CONSUMERS', topic, group)) as unknown[][];
      return rows.every((c) => Number(c[c.indexOf('idle') + 1]) > 200);
    }, 5000, 'both idle');
    const sweeper = new RedisStreamsTransport({ url: REDIS_URL, staleConsumerMs: 200, claimIdleMs: 60_000 });
    await sweeper.connect();
    const sub = await sweeper.consume({ topic, group, prefetch: 1, startFrom: 'earliest' }, async (d) => d.ack());
    const left = await consumerNames();
    expect(left).not.toContain('exited-run');
    expect(left).toContain('crashed-run'); // still holds an entry: left for XAUTOCLAIM
    await sub.close();
    await sweeper.close();
  });

  it('a consumer with a stable name resumes its own pending entries at once after a restart', async () => {
    const topic = topicFor('stable');
    const group = unique('g');
    const first = new RedisStreamsTransport({ url: REDIS_URL, consumerName: 'worker-1', claimIdleMs: 60_000 });
    await first.connect();
    const held: Delivery[] = [];
    await first.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, async (d) => {
      held.push(d); // the process "dies" before acking
    });
    await transport.send(wire(topic, 'resume me'), { timeoutMs: 2000 });
    await waitFor(() => held.length === 1);
    first.connections.command.disconnect(); // no goodbye, no hand-back

    const restarted = new RedisStreamsTransport({ url: REDIS_URL, consumerName: 'worker-1', claimIdleMs: 60_000 });
    await restarted.connect();
    const resumed: Delivery[] = [];
    const sub = await restarted.consume({ topic, group, prefetch: 5, startFrom: 'earliest' }, collect(resumed));
    await waitFor(() => resumed.length === 1, 5000, 'own pending entry, long before claimIdleMs');
    expect(payloadOf(resumed[0] as Delivery)).toBe('resume me');
    expect(resumed[0]?.deliveryCount).toBe(2);
    await waitFor(async () => Number((await admin.xpending(topic, group))[0]) === 0);
    await sub.close();
    await restarted.close();
    await first.close();
  });

  it('subscribes to topics whose names Redis would refuse as a connection name', async () => {
    const topic = topicFor('odd name with spaces');
    const seen: Delivery[] = [];
    const sub = await transport.consume({ topic, group: 'group with spaces', prefetch: 1, startFrom: 'earliest' }, collect(seen));
    await transport.send(wire(topic, 'x'), { timeoutMs: 2000 });
    await waitFor(() => seen.length === 1);
    await sub.close();
  });

  it('trims with MAXLEN ~ so a stream does not grow without bound', async () => {
    const small = new RedisStreamsTransport({ url: REDIS_URL, maxLen: 100 });
    await small.connect();
    const topic = topicFor('trim');
    for (let i = 0; i < 1000; i++) await small.send(wire(topic, i), { timeoutMs: 2000 });
    expect(await admin.xlen(topic)).toBeLessThan(300);
    await small.close();
  });

  it('health reports ping, lag and pending per subscription', async () => {
    const topic = topicFor('health');
    const group = unique('g');
    const held: Delivery[] = [];
    const sub = await transport.consume({ topic, group, prefetch: 1, startFrom: 'earliest' }, async (d) => {
      held.push(d);
    });
    for (let i = 0; i < 3; i++) await transport.send(wire(topic, i), { timeoutMs: 2000 });
    await waitFor(() => held.length === 1);
    const health = await transport.health();
    expect(health.isHealthy).toBe(true);
    expect(typeof health.details.pingMs).toBe('number');
    const mine = (health.details.subscriptions as Array<Record<string, unknown>>).find((s) => s.group === group);
    expect(mine).toMatchObject({ topic, pending: 1, lag: 2, inFlight: 1 });
    await held[0]?.ack();
    await sub.close();
  });
});

describe('Redis Streams batched appends where scripts are gone or refused (private redis-server)', () => {
  const server = usePrivateRedis('redis-streams-scripts', { args: ['--save', '', '--appendonly', 'no'] });

  async function publishTick(transport: RedisStreamsTransport, topic: string, count: number): Promise<Array<string | undefined>> {
    const receipts = await Promise.all(Array.from({ length: count }, (_, i) => transport.send(wire(topic, { i }), { timeoutMs: 5000 })));
    return receipts.map((r) => r.offset);
  }

  it('after SCRIPT FLUSH the batch still lands, in order (EVALSHA falls back to EVAL)', async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    const transport = new RedisStreamsTransport({ url: server.url });
    await transport.connect();
    const topic = unique('flushed');
    await publishTick(transport, topic, 5);
    await admin.script('FLUSH');
    const ids = await publishTick(transport, topic, 50);
    const entries = (await admin.xrange(topic, '-', '+')) as Array<[string, string[]]>;
    expect(entries).toHaveLength(55);
    expect(entries.slice(5).map(([id]) => id)).toEqual(ids);
    expect(entries.map(([, f]) => (JSON.parse(f.at(-1) ?? '') as { i: number }).i)).toEqual([...Array.from({ length: 5 }, (_, i) => i), ...Array.from({ length: 50 }, (_, i) => i)]);
    await transport.close();
    await admin.quit();
  });

  it('a user whose ACL forbids scripts gets plain XADDs, nothing lost', async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    await admin.call('ACL', 'SETUSER', 'noscripts', 'on', '>pw', '~*', '&*', '+@all', '-@scripting');
    const transport = new RedisStreamsTransport({ url: server.url, username: 'noscripts', password: 'pw' });
    await transport.connect();
    const topic = unique('noscripts');
    const first = await publishTick(transport, topic, 40);
    const second = await publishTick(transport, topic, 40);
    const entries = (await admin.xrange(topic, '-', '+')) as Array<[string, string[]]>;
    expect(entries.map(([id]) => id)).toEqual([...first, ...second]);
    await transport.close();
    await admin.call('ACL', 'DELUSER', 'noscripts');
    await admin.quit();
  });
});
