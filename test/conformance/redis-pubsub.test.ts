/**
 * The universal conformance suite against Redis Pub/Sub (REDIS_URL, default 127.0.0.1:6379), with
 * the client's defaults. Pub/Sub is at-most-once and declares it: the durable, group and redelivery
 * cases skip by their flags; patterns run. Gaps and fail-fast publishing while Redis is down are
 * covered in test/integration/redis/pubsub-transport.test.ts (on a private redis-server).
 */
import { afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { RedisPubSubClient, PUBSUB_CAPABILITIES } from '../../runtime/bindings/redis/index.ts';
import { brokerUrls } from '../support/brokers.ts';
import { runConformanceSuite } from './suite.ts';

const url = brokerUrls().redis;

// Pub/Sub keeps a copy of every dead letter in a stream named like the dead-letter topic; the
// suite's topics are unique per run, so their streams are removed afterwards.
afterAll(async () => {
  const admin = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = (await admin.call('SCAN', cursor, 'MATCH', 'cb-conf.*', 'TYPE', 'stream', 'COUNT', 500)) as [string, string[]];
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await admin.quit();
});

runConformanceSuite({
  name: 'redis-pubsub',
  capabilities: PUBSUB_CAPABILITIES,
  timeoutMs: 5000,
  async create() {
    const broker = new RedisPubSubClient({ url, reconnectDelay: 50 });
    await broker.connect();
    return broker;
  },
});
