/**
 * The universal conformance suite against Redis Streams. It runs on its own redis-server (a free
 * port, AOF with appendfsync always, data under .brokers/redis-conformance-<pid>), started and stopped
 * by PID here, so the restart case proves "nothing confirmed lost" on a Redis that persists
 * (the shared Redis on 6379 runs without persistence) without disturbing anyone else's tests.
 */
import { RedisStreamsClient, STREAMS_CAPABILITIES } from '../../runtime/bindings/redis/index.ts';
import { usePrivateRedis } from '../integration/redis/support.ts';
import { runConformanceSuite } from './suite.ts';

const server = usePrivateRedis('redis-conformance', { args: ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'] });

runConformanceSuite({
  name: 'redis-streams',
  capabilities: STREAMS_CAPABILITIES,
  timeoutMs: 5000,
  async create() {
    // claimIdleMs short so a closed member's unacked entries move on within the suite's waits.
    const broker = new RedisStreamsClient({ url: `redis+streams://127.0.0.1:${server.port}`, reconnectDelay: 50, maxReconnectDelay: 200, claimIdleMs: 1000, blockMs: 500 });
    await broker.connect();
    return broker;
  },
  async restartBroker() {
    await server.stop();
    await server.start();
  },
  stopBroker: () => server.stop(),
  startBroker: () => server.start(),
});
