/**
 * Redis Sentinel through ioredis's own options (`redisOptions: { sentinels, name }`): a master and
 * one Sentinel started by this test on free ports, stopped by PID afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPubSubClient, RedisStreamsClient } from '../../../runtime/bindings/redis/index.ts';
import { privateRedis, unique, waitFor, wipe } from './support.ts';

const master = privateRedis('redis-sentinel-master', { args: ['--save', '', '--appendonly', 'no'] });
let sentinel: ReturnType<typeof privateRedis> | undefined;

describe('Redis Sentinel', () => {
  beforeAll(async () => {
    wipe(master.dir);
    await master.start();
    sentinel = privateRedis('redis-sentinel', { config: `sentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel resolve-hostnames no\n`, args: ['--sentinel'] });
    wipe(sentinel.dir);
    await sentinel.start();
  });
  afterAll(async () => {
    await sentinel?.stop();
    await master.stop();
    if (sentinel) wipe(sentinel.dir);
    wipe(master.dir);
  });

  const viaSentinel = () => ({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: sentinel?.port ?? 0 }], name: 'mymaster' } });

  it('Streams and Pub/Sub find the master through Sentinel', async () => {
    const streams = new RedisStreamsClient(viaSentinel());
    const pubsub = new RedisPubSubClient(viaSentinel());
    await streams.connect();
    await pubsub.connect();
    const topic = unique('sentinel');
    const seen: string[] = [];
    await streams.subscribe<string>(topic, (m) => void seen.push(`streams:${m}`), { group: 'g' });
    await pubsub.subscribe<string>(topic, (m) => void seen.push(`pubsub:${m}`));
    await streams.publish(topic, 'durable');
    await pubsub.publish(topic, 'live');
    await waitFor(() => seen.length === 2, 5000, 'both deliveries');
    expect(seen.sort()).toEqual(['pubsub:live', 'streams:durable']);
    const health = await streams.healthCheck();
    expect((health.details.transport as { endpoint: string }).endpoint).toBe('sentinel(mymaster)');
    await streams.disconnect();
    await pubsub.disconnect();
  });
});
