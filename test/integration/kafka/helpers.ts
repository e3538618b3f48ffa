// Shared helpers of the Kafka integration tests: a client per driver with test-friendly group
// timings, unique names, and event-driven waiting (no fixed sleeps).
import { KafkaClient, type KafkaClientOptions, type KafkaDriverName } from '../../../runtime/bindings/kafka/index.ts';
import { brokerUrls } from '../../support/brokers.ts';

export const DRIVERS: readonly KafkaDriverName[] = ['kafkajs', 'platformatic'];

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Short session/heartbeat so rebalances after a kill or a new member take seconds, not a minute. */
export function testClient(driver: KafkaDriverName, options: KafkaClientOptions = {}): KafkaClient {
  return new KafkaClient({
    bootstrapServers: [...brokerUrls().kafkaBrokers],
    clientId: `contractbus-test-${driver}`,
    driver,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    drainTimeoutMs: 5_000,
    ...options,
  });
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
