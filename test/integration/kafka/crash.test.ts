// Nothing is lost when a group member is killed with SIGKILL mid-stream: its partitions move to
// the surviving member, which resumes from the last committed offset (at-least-once).
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { killHard, spawnConsumerProcess, type ConsumerProcess } from '../../support/brokers.ts';
import { DRIVERS, testClient, uniqueName, waitFor } from './helpers.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((f) => f()));
});

describe.each(DRIVERS)('Kafka consumer crash (%s driver)', (driver) => {
  it('moves the partitions of a SIGKILLed member to the survivor without losing a message', { timeout: 60_000 }, async () => {
    const topic = uniqueName(`kafka-crash-${driver}`);
    const group = uniqueName('crash');
    const survivor: KafkaClient = testClient(driver, { topicConfig: { [topic]: { partitions: 2 } } });
    cleanup.push(() => survivor.disconnect({ timeoutMs: 2_000 }));
    await survivor.connect();
    const bySurvivor = new Set<number>();
    await survivor.subscribe<{ n: number }>(
      topic,
      async (m) => {
        bySurvivor.add(m.n);
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
      { group },
    );

    const child: ConsumerProcess = spawnConsumerProcess(new URL('./fixtures/group-member.ts', import.meta.url), {
      env: { KAFKA_TEST_TOPIC: topic, KAFKA_TEST_GROUP: group, KAFKA_TEST_DRIVER: driver, KAFKA_TEST_HANDLER_MS: '10' },
    });
    cleanup.push(() => killHard(child));
    const byChild = new Set<number>();
    child.child.on('message', (m: { handled?: number }) => {
      if (typeof m.handled === 'number') byChild.add(m.handled);
    });
    await child.waitForMessage((m) => (m as { partitions?: number }).partitions === 1, 30_000);
    await waitFor(() => survivor.kafka.assignedPartitions() === 1, 30_000, 'the survivor holding one partition');

    const total = 400;
    await survivor.produceBatch(topic, Array.from({ length: total }, (_, n) => ({ key: `k${n}`, value: { n } })));
    await waitFor(() => byChild.size >= 20, 30_000, 'the child handling messages');
    const exit = await killHard(child);
    expect(exit.signal).toBe('SIGKILL');

    // The session times out, the group rebalances, the survivor takes both partitions.
    await waitFor(() => survivor.kafka.assignedPartitions() === 2, 30_000, 'the survivor taking over the partitions');
    await waitFor(() => {
      for (let n = 0; n < total; n++) if (!bySurvivor.has(n) && !byChild.has(n)) return false;
      return true;
    }, 30_000, 'every message handled by one of the members');
    const missing = Array.from({ length: total }, (_, n) => n).filter((n) => !bySurvivor.has(n) && !byChild.has(n));
    expect(missing).toEqual([]);
    expect(byChild.size).toBeLessThan(total);
  });
});
