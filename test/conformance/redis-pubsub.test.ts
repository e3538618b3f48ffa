/**
 * The universal conformance suite against Redis Pub/Sub (REDIS_URL, default 127.0.0.1:6379), with
 * the client's defaults. Pub/Sub is at-most-once and declares it: the durable, group and redelivery
 * cases skip by their flags; patterns run. Gaps and fail-fast publishing while Redis is down are
 * covered in test/integration/redis/pubsub-transport.test.ts (on a private redis-server).
 */
import { RedisPubSubClient, PUBSUB_CAPABILITIES } from '../../runtime/bindings/redis/index.ts';
import { brokerUrls } from '../support/brokers.ts';
import { runConformanceSuite } from './suite.ts';

const url = brokerUrls().redis;

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
