// A handler running longer than the group session timeout keeps its partitions: the binding
// heartbeats while it runs (kafkajs only heartbeats between batches unless asked). Both drivers
// run at once to keep the test to one session timeout's worth of waiting.
import { afterAll, describe, expect, it } from 'vitest';
import type { KafkaClient } from '../../../runtime/bindings/kafka/index.ts';
import { DRIVERS, testClient, uniqueName, waitFor } from './helpers.ts';

const clients: KafkaClient[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.disconnect({ timeoutMs: 2_000 })));
});

describe('Kafka long handlers', () => {
  it('keep the group session alive past sessionTimeoutMs: no rebalance, no redelivery', { timeout: 40_000 }, async () => {
    // 6 s is the broker's minimum session timeout (group.min.session.timeout.ms).
    const sessionTimeoutMs = 6_000;
    const handlerMs = sessionTimeoutMs + 2_500;
    const runs = await Promise.all(
      DRIVERS.map(async (driver) => {
        const topic = uniqueName(`kafka-long-${driver}`);
        const client = testClient(driver, { sessionTimeoutMs, heartbeatIntervalMs: 1_000 });
        clients.push(client);
        await client.connect();
        const attempts: number[] = [];
        const after: string[] = [];
        await client.subscribe<{ id: string }>(
          topic,
          async (m, meta) => {
            if (m.id === 'slow') {
              attempts.push(meta.attempt);
              await new Promise((resolve) => setTimeout(resolve, handlerMs));
            } else after.push(m.id);
          },
          { group: uniqueName('long'), maxRetries: 0 },
        );
        const memberBefore = memberOf(client);
        await client.publish(topic, { id: 'slow' });
        await client.publish(topic, { id: 'next' });
        return { driver, client, attempts, after, memberBefore };
      }),
    );
    for (const run of runs) {
      await waitFor(() => run.after.length === 1, handlerMs + 20_000, `the message after the slow one (${run.driver})`);
      expect(run.attempts, run.driver).toEqual([1]);
      expect(memberOf(run.client), run.driver).toBe(run.memberBefore);
      expect(run.client.kafka.assignedPartitions(), run.driver).toBe(1);
    }
  });
});

function memberOf(client: KafkaClient): unknown {
  return client.kafka.memberIds()[0];
}
