/**
 * The universal conformance suite against a real RabbitMQ (AMQP_URL, default 127.0.0.1:5672) with
 * the client's default options, so the capabilities are what users get: priority (opt-in with
 * `maxPriority`) is skipped by its flag and covered in test/integration/rabbitmq/native.test.ts.
 * Broker restarts live in test/integration/rabbitmq/faults.test.ts (they disturb the shared broker).
 */
import { RabbitMQClient } from '../../runtime/bindings/rabbitmq/index.ts';
import { brokerUrls } from '../support/brokers.ts';
import { runConformanceSuite } from './suite.ts';

const url = brokerUrls().amqp;

runConformanceSuite({
  name: 'rabbitmq',
  timeoutMs: 5000,
  async create() {
    const broker = new RabbitMQClient({ url, reconnectDelay: 100 });
    await broker.connect();
    return broker;
  },
});
