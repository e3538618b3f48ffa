/**
 * Redis restart with a durable server: nothing whose XADD was acknowledged is lost, and the
 * consumer group resumes by itself. Runs its own redis-server (AOF, appendfsync always) on a free port,
 * data under .brokers/redis-durable, killed with SIGKILL and restarted by PID — the shared Redis on
 * 6379 runs without persistence (brokers.md) and is left alone.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStreamsTransport } from '../../../runtime/bindings/redis/streams-transport.ts';
import type { WireMessage } from '../../../runtime/core/transport.ts';
import { ConnectionError, TimeoutError } from '../../../runtime/core/errors.ts';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import { unique, waitFor, usePrivateRedis } from './support.ts';

const encoder = new TextEncoder();

function wire(topic: string, n: number): WireMessage {
  return { messageId: `m-${n}`, topic, body: encoder.encode(JSON.stringify({ n })), headers: { n: String(n) }, contentType: 'application/json', timestamp: Date.now() };
}

describe('Redis Streams faults: crash, stall (private durable redis-server)', () => {
  const server = usePrivateRedis('redis-durable', { args: ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'] });

  it('every acknowledged XADD survives a SIGKILL of Redis and reaches the group after it restarts', async () => {
    const topic = unique('durable');
    const group = 'billing';
    const transport = new RedisStreamsTransport({ url: server.url, reconnectDelay: 50, maxReconnectDelay: 200, blockMs: 300, commandTimeoutMs: 1000 });
    await transport.connect();
    const handled = new Set<string>();
    const sub = await transport.consume({ topic, group, prefetch: 10, startFrom: 'earliest' }, async (d) => {
      handled.add(d.message.messageId);
      await d.ack();
    });

    // Publishes made while Redis is down wait in the bounded publish buffer and go out after it is back.
    const confirmed: string[] = [];
    const total = 300;
    let restarted: Promise<void> | undefined;
    let waitedMs = 0;
    for (let n = 0; n < total; n++) {
      if (n === 150) {
        await server.kill();
        await waitFor(() => transport.connections.status !== 'ready', 5000, 'disconnect noticed');
        restarted = new Promise((r) => setTimeout(r, 300)).then(() => server.start());
      }
      const started = Date.now();
      await transport.send(wire(topic, n), { timeoutMs: 10_000 }).catch((error: unknown) => {
        throw new Error(`publish ${n} failed (${transport.connections.status}): ${String(error)}`);
      });
      if (n === 150) waitedMs = Date.now() - started;
      confirmed.push(`m-${n}`);
    }
    await restarted;
    expect(waitedMs).toBeGreaterThanOrEqual(250);
    await waitFor(() => confirmed.every((id) => handled.has(id)), 20_000, 'every confirmed message handled');
    expect(confirmed).toHaveLength(total);

    const admin = new Redis(server.port, '127.0.0.1');
    const ids = new Set((await admin.xrange(topic, '-', '+')).map(([, fields]) => fields[1]));
    expect(confirmed.filter((id) => !ids.has(id))).toEqual([]);
    // Acks lost with the connection are sent again after the reconnect: nothing stays pending.
    await waitFor(async () => Number((await admin.xpending(topic, group))[0]) === 0, 10_000, 'nothing pending');
    const health = await transport.health();
    expect(health.isHealthy).toBe(true);
    await admin.quit();
    await sub.close();
    await transport.close();
  });

  it('every round trip is bounded: a stalled Redis (CLIENT PAUSE) times the publish out; retryOnTimeout tries once more', async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    const strict = new RedisStreamsTransport({ url: server.url, commandTimeoutMs: 250 });
    const patient = new RedisStreamsTransport({ url: server.url, commandTimeoutMs: 250, retryOnTimeout: true });
    await strict.connect();
    await patient.connect();
    const topic = unique('stalled');

    await admin.client('PAUSE', 1500, 'WRITE');
    const started = Date.now();
    const error = await strict.send(wire(topic, 1), { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(String((error as Error).message)).toMatch(/Redis: XADD to stream ".*" got no reply from .* in time.*commandTimeoutMs/);
    expect(Date.now() - started).toBeLessThan(1500);

    await admin.client('UNPAUSE');
    // Paused longer than one timeout, shorter than two: the retry lands once Redis resumes.
    await admin.client('PAUSE', 350, 'WRITE');
    await expect(patient.send(wire(topic, 2), { timeoutMs: 10_000 })).resolves.toMatchObject({ offset: expect.stringMatching(/^\d+-\d+$/) });
    // The timed-out attempts still reached Redis once it resumed: at-least-once, possibly twice.
    await waitFor(async () => (await admin.xlen(topic)) >= 2, 5000, 'entries after the pause');
    await strict.close();
    await patient.close();
    await admin.quit();
  });

  it('disconnect() while Redis is down returns promptly and rejects what still waited to be published', async () => {
    const streams = new RedisStreamsClient({ url: server.url, reconnectDelay: 50 });
    const pubsub = new RedisPubSubClient({ url: server.url, reconnectDelay: 50 });
    await streams.connect();
    await pubsub.connect();
    const topic = unique('down-close');
    await streams.subscribe(topic, () => undefined, { group: 'g' });
    await streams.subscribe(topic, () => undefined);
    await pubsub.subscribe(topic, () => undefined);
    await server.kill();
    await waitFor(() => streams.redis.connections.status !== 'ready', 5000, 'disconnect noticed');
    const waiting = streams.publish(topic, 'held while down', { timeoutMs: 30_000 }).catch((e: unknown) => e);
    const started = Date.now();
    await Promise.all([streams.disconnect({ timeoutMs: 1000 }), pubsub.disconnect({ timeoutMs: 1000 })]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await waiting).toBeInstanceOf(ConnectionError);
    await server.start();
  });
});
