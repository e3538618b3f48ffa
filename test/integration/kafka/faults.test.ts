// Nothing confirmed is lost across a broker restart, on both drivers, in one restart (restarts
// disturb every other test using the shared broker: keep them few). Publishers keep going through
// the outage, retrying what the broker did not confirm; subscribers must end up with every
// confirmed message (duplicates allowed: at-least-once).
import { afterAll, describe, expect, it } from 'vitest';
import type { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { canRestartBroker, NOT_OURS_REASON, restartBroker } from '../../support/brokers.ts';
import { DRIVERS, testClient, uniqueName, waitFor } from './helpers.ts';

const clients: KafkaClient[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.disconnect({ timeoutMs: 2_000 })));
});

interface Scenario {
  driver: string;
  confirmed: Set<number>;
  received: Set<number>;
  failures: number;
  done: Promise<void>;
}

async function startScenario(driver: (typeof DRIVERS)[number], total: number): Promise<Scenario> {
  const topic = uniqueName(`kafka-fault-${driver}`);
  const client = testClient(driver, { topicConfig: { [topic]: { partitions: 2 } }, requestTimeoutMs: 5_000 });
  clients.push(client);
  await client.connect();
  const scenario: Scenario = { driver, confirmed: new Set(), received: new Set(), failures: 0, done: Promise.resolve() };
  await client.subscribe<{ n: number }>(topic, (m) => void scenario.received.add(m.n), { group: uniqueName('fault') });
  scenario.done = (async () => {
    for (let n = 0; n < total; n++) {
      for (;;) {
        try {
          await client.publish(topic, { n }, { key: `k${n % 8}`, timeoutMs: 5_000 });
          scenario.confirmed.add(n);
          break;
        } catch {
          scenario.failures++;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }
  })();
  return scenario;
}

const ours = canRestartBroker('kafka');

describe(ours ? 'Kafka broker restart' : `Kafka broker restart (skipped: ${NOT_OURS_REASON('kafka')})`, () => {
  it.skipIf(!ours)('loses no confirmed message on either driver', { timeout: 180_000 }, async () => {
    const total = 1_500;
    const scenarios = await Promise.all(DRIVERS.map((driver) => startScenario(driver, total)));
    await waitFor(() => scenarios.every((s) => s.confirmed.size >= 200), 30_000, 'publishing under way on both drivers');

    await restartBroker('kafka');

    await Promise.all(scenarios.map((s) => s.done));
    for (const s of scenarios) {
      await waitFor(() => [...s.confirmed].every((n) => s.received.has(n)), 90_000, `every confirmed message received (${s.driver})`);
      expect(s.confirmed.size, s.driver).toBe(total);
      expect([...s.confirmed].filter((n) => !s.received.has(n)), s.driver).toEqual([]);
    }
  });
});
