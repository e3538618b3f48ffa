/**
 * The universal conformance suite against a real Kafka 4 broker (KAFKA_BROKERS, default
 * 127.0.0.1:9092) through the @platformatic/kafka driver. Group timings are short so rebalances after a
 * closed member take about a second; waits are long because group joins take seconds.
 * Broker restarts live in test/integration/kafka/faults.test.ts (they disturb the shared broker).
 */
import { KafkaClient, KAFKA_CAPABILITIES } from '../../runtime/bindings/kafka/index.ts';
import { brokerUrls } from '../support/brokers.ts';
import { runConformanceSuite } from './suite.ts';

runConformanceSuite({
  name: 'kafka-platformatic',
  capabilities: KAFKA_CAPABILITIES,
  timeoutMs: 20_000,
  messageCount: 100,
  async create() {
    const broker = new KafkaClient({
      bootstrapServers: [...brokerUrls().kafkaBrokers],
      clientId: 'conformance-platformatic',
      driver: 'platformatic',
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 10_000,
      drainTimeoutMs: 5_000,
    });
    await broker.connect();
    return broker;
  },
});
