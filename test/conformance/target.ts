/** What a binding hands the conformance suite (see suite.ts). */
import type { BrokerCapabilities, MessageBroker } from '../../runtime/core/types.ts';

export interface ConformanceTarget {
  /** 'memory', 'redis-streams', 'rabbitmq', 'kafka-kafkajs', … */
  name: string;
  /** A fresh, connected broker client; the suite disconnects it after each test. */
  create(options?: { clientName?: string }): Promise<MessageBroker>;
  /** Restarts the server with its data kept (fault tests; optional). */
  restartBroker?(): Promise<void>;
  /** Stops the server (data kept) until `startBroker`; both or neither (publish-while-down test). */
  stopBroker?(): Promise<void>;
  startBroker?(): Promise<void>;
  /** Upper bound for waits in this target (Kafka group joins are slow). Default 5000 ms. */
  timeoutMs?: number;
  /**
   * The binding's capabilities, if known without connecting. Otherwise the suite creates one
   * client while collecting tests to read them.
   */
  capabilities?: BrokerCapabilities;
  /** Message count of the bulk tests. Default 100. */
  messageCount?: number;
}
