/**
 * A Streams consumer killed with SIGKILL mid-stream: the entries it held (delivered, not acked)
 * are reclaimed by another consumer of the group; the ones it acked are not delivered again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStreamsTransport } from '../../../runtime/bindings/redis/streams-transport.ts';
import type { Delivery, WireMessage } from '../../../runtime/core/transport.ts';
import { killHard, spawnConsumerProcess } from '../../support/brokers.ts';
import { REDIS_URL, unique, waitFor } from './support.ts';

const encoder = new TextEncoder();

function wire(topic: string, n: number): WireMessage {
  return { messageId: `msg-${n}`, topic, body: encoder.encode(JSON.stringify({ n })), headers: {}, contentType: 'application/json', timestamp: Date.now() };
}

describe('Redis Streams: consumer killed with SIGKILL', () => {
  const admin = new Redis(REDIS_URL);
  const topic = unique('crash');
  afterAll(async () => {
    await admin.del(topic);
    await admin.quit();
  });

  it("its pending entries are reclaimed by another consumer; what it acked stays handled", async () => {
    const group = unique('workers');
    const publisher = new RedisStreamsTransport({ url: REDIS_URL });
    await publisher.connect();
    for (let n = 0; n < 7; n++) await publisher.send(wire(topic, n), { timeoutMs: 2000 });

    const child = spawnConsumerProcess(new URL('./fixtures/stream-consumer.ts', import.meta.url), { args: [topic, group, '2'] });
    const acked: string[] = [];
    const holding: string[] = [];
    child.child.on('message', (m: { acked?: string; holding?: string }) => {
      if (m.acked) acked.push(m.acked);
      if (m.holding) holding.push(m.holding);
    });
    await waitFor(() => acked.length === 2 && holding.length === 5, 20_000, 'child to ack 2 and hold 5');
    const exit = await killHard(child);
    expect(exit.signal).toBe('SIGKILL');
    expect(Number((await admin.xpending(topic, group))[0])).toBe(5);

    const rescuer = new RedisStreamsTransport({ url: REDIS_URL, claimIdleMs: 500, claimIntervalMs: 100, blockMs: 200 });
    await rescuer.connect();
    const rescued: Delivery[] = [];
    const sub = await rescuer.consume({ topic, group, prefetch: 10, startFrom: 'earliest' }, async (d) => {
      rescued.push(d);
      await d.ack();
    });
    await waitFor(() => rescued.length === 5, 10_000, 'five reclaimed deliveries');
    expect(rescued.map((d) => d.message.messageId).sort()).toEqual([...holding].sort());
    expect(rescued.every((d) => d.deliveryCount === 2)).toBe(true);
    expect(rescued.some((d) => acked.includes(d.message.messageId))).toBe(false);
    await waitFor(async () => Number((await admin.xpending(topic, group))[0]) === 0, 5000, 'nothing pending');
    await sub.close();
    await rescuer.close();
    await publisher.close();
  });
});
