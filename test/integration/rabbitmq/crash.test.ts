/**
 * A consumer killed with SIGKILL loses nothing: its unacked deliveries go back to the group queue
 * and a new consumer gets every message the dead one had not acked.
 */
import { describe, expect, it } from 'vitest';
import { RabbitMQTransport } from '../../../runtime/bindings/rabbitmq/transport.ts';
import { killHard, spawnConsumerProcess } from '../../support/brokers.ts';
import { AMQP_URL, unique, waitFor, wire } from './helpers.ts';

describe('RabbitMQ consumer crash', () => {
  it('redelivers everything a SIGKILLed consumer had not acked to a new consumer', async () => {
    const topic = unique('crash');
    const group = 'workers';
    const transport = new RabbitMQTransport({ url: AMQP_URL });
    await transport.connect();
    try {
      const child = spawnConsumerProcess(new URL('./fixtures/slow-consumer.ts', import.meta.url), { args: [topic, group] });
      const ackedByChild = new Set<string>();
      child.child.on('message', (m: { acked?: string }) => {
        if (m.acked) ackedByChild.add(m.acked);
      });
      await child.waitForMessage((m) => (m as { ready?: boolean }).ready === true, 20_000);

      const published: string[] = [];
      for (let i = 0; i < 200; i++) {
        const m = wire(topic, { i });
        await transport.send(m, { timeoutMs: 5_000 });
        published.push(m.messageId);
      }
      await waitFor(() => ackedByChild.size >= 30, 20_000, 'the child to ack some messages');
      const exit = await killHard(child);
      expect(exit.signal).toBe('SIGKILL');
      expect(ackedByChild.size).toBeLessThan(published.length);

      const received = new Set<string>();
      const sub = await transport.consume({ topic, group, prefetch: 50, startFrom: 'earliest' }, async (d) => {
        received.add(d.message.messageId);
        await d.ack();
      });
      await waitFor(() => published.every((id) => ackedByChild.has(id) || received.has(id)), 20_000, 'every message acked by someone');
      await sub.close();
      await transport.deleteQueue(`${group}.${topic}`);
    } finally {
      await transport.close();
    }
  });
});
