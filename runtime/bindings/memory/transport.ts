/**
 * `Transport` over a `MemoryHub`. Keeps the seam honest: the memory binding goes through exactly
 * the same `BrokerClient` code as Redis, RabbitMQ and Kafka.
 */
import { ClosedError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from '../../core/transport.ts';
import type { BrokerCapabilities, HealthStatus } from '../../core/types.ts';
import type { Consumer, MemoryHub } from './hub.ts';

export const MEMORY_CAPABILITIES: BrokerCapabilities = Object.freeze({
  deliveryGuarantee: 'at-least-once',
  durable: true,
  consumerGroups: true,
  patternSubscribe: true,
  orderingByKey: true,
  nativeHeaders: true,
  nativeTtl: true,
  nativePriority: true,
  nativeDeadLetter: false,
  delayedRedelivery: true,
  redeliveryOnCrash: true,
  retainsHistory: true,
});

export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities = MEMORY_CAPABILITIES;
  readonly hub: MemoryHub;
  readonly #logger: Logger;
  readonly #consumers = new Set<Consumer>();
  #connected = false;

  constructor(hub: MemoryHub, logger: Logger = silentLogger) {
    this.hub = hub;
    this.#logger = logger;
  }

  async connect(): Promise<void> {
    this.#connected = true;
  }

  async close(): Promise<void> {
    this.#connected = false;
    for (const consumer of this.#consumers) consumer.close();
    this.#consumers.clear();
  }

  async send(message: WireMessage): Promise<{ offset: string }> {
    if (!this.#connected) throw this.#closed(message.topic);
    return this.hub.publish(message);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    if (!this.#connected) throw this.#closed(spec.topic);
    const consumer = this.hub.consume(spec.topic, spec.group, spec.startFrom, spec.prefetch, onDelivery, (error) =>
      this.#logger.error({ err: error, topic: spec.topic, group: spec.group }, 'contractbus: memory delivery callback failed'),
    );
    this.#consumers.add(consumer);
    return {
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      close: async () => {
        consumer.close();
        this.#consumers.delete(consumer);
      },
    };
  }

  async health(): Promise<HealthStatus> {
    const stats = this.hub.stats();
    const issues: string[] = [];
    if (!this.#connected) issues.push('memory: transport closed');
    if (!this.hub.available) issues.push('memory: broker unavailable (simulated outage)');
    return {
      isHealthy: issues.length === 0,
      issues,
      details: { topics: stats.topics, groups: stats.groups.length, retainedMessages: stats.retainedMessages, expired: stats.expired },
    };
  }

  #closed(topic: string): ClosedError {
    return new ClosedError(`The memory transport is closed (topic "${topic}")`, { broker: 'memory', topic, hint: 'Connect the broker first' });
  }
}
