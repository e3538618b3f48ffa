/**
 * The universal conformance suite against a real RabbitMQ (AMQP_URL, default 127.0.0.1:5672):
 * - 'rabbitmq': the client's default options, so the capabilities are what users get (priority is
 *   opt-in and skipped by its flag);
 * - 'rabbitmq (maxPriority 9)': subscription queues with x-max-priority, so the priority case runs;
 * - 'rabbitmq (quorum queues)': group queues of type quorum (x-delivery-count, replicated queues).
 * Broker restarts live in test/integration/rabbitmq/faults.test.ts (they disturb the shared broker).
 */
import { RabbitMQClient, type RabbitMQClientOptions } from '../../runtime/bindings/rabbitmq/index.ts';
import { brokerUrls } from '../support/brokers.ts';
import { runConformanceSuite } from './suite.ts';

const url = brokerUrls().amqp;

function target(name: string, options: RabbitMQClientOptions = {}) {
  runConformanceSuite({
    name,
    timeoutMs: 5000,
    async create() {
      // Test groups are unique per test: let RabbitMQ remove their queues once idle.
      const broker = new RabbitMQClient({ url, reconnectDelay: 100, groupQueueArguments: { 'x-expires': 10 * 60_000 }, ...options });
      await broker.connect();
      return broker;
    },
  });
}

target('rabbitmq');
target('rabbitmq (maxPriority 9)', { maxPriority: 9 });
target('rabbitmq (quorum queues)', { queueType: 'quorum' });
