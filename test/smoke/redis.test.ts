// Proves the Redis infrastructure with the raw ioredis client, before any binding exists.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerUrls } from '../support/brokers.ts';
import { deferred, uniqueName, within } from './wait.ts';

describe('smoke: Redis (raw ioredis)', () => {
  let client: Redis;
  let subscriber: Redis;

  beforeAll(() => {
    const opts = { maxRetriesPerRequest: 1, connectTimeout: 5_000, lazyConnect: false };
    client = new Redis(brokerUrls().redis, opts);
    subscriber = new Redis(brokerUrls().redis, opts);
  });

  afterAll(async () => {
    await Promise.all([client?.quit(), subscriber?.quit()]);
  });

  it('SET then GET round-trips a value', async () => {
    const key = uniqueName('smoke:kv');
    await client.set(key, 'hello', 'EX', 60);
    expect(await client.get(key)).toBe('hello');
    await client.del(key);
  });

  it('delivers a Pub/Sub message to a subscriber', async () => {
    const channel = uniqueName('smoke:chan');
    const received = deferred<string>();
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === channel) received.resolve(message);
    });
    await subscriber.subscribe(channel);
    const receivers = await client.publish(channel, 'ping');
    expect(receivers).toBe(1);
    expect(await within(received.promise, 5_000, `Pub/Sub message on ${channel}`)).toBe('ping');
    await subscriber.unsubscribe(channel);
  });

  it('Streams: XADD, XREADGROUP, XACK leaves nothing pending', async () => {
    const stream = uniqueName('smoke:stream');
    const group = 'smoke-group';
    await client.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    const id = await client.xadd(stream, '*', 'type', 'smoke', 'payload', '{"n":1}');
    expect(id).toMatch(/^\d+-\d+$/);

    const reply = (await client.xreadgroup('GROUP', group, 'consumer-1', 'COUNT', 10, 'BLOCK', 2_000, 'STREAMS', stream, '>')) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]?.[0]).toBe(id);
    expect(entries[0]?.[1]).toEqual(['type', 'smoke', 'payload', '{"n":1}']);

    const pendingBefore = (await client.xpending(stream, group)) as [number, ...unknown[]];
    expect(pendingBefore[0]).toBe(1);
    expect(await client.xack(stream, group, id as string)).toBe(1);
    const pendingAfter = (await client.xpending(stream, group)) as [number, ...unknown[]];
    expect(pendingAfter[0]).toBe(0);
    await client.del(stream);
  });
});
