// Proves the RabbitMQ infrastructure with the raw amqplib client, before any binding exists.
import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerUrls } from '../support/brokers.ts';
import { deferred, uniqueName, within } from './wait.ts';

describe('smoke: RabbitMQ (raw amqplib)', () => {
  let conn: ChannelModel;

  beforeAll(async () => {
    // noDelay: Nagle's algorithm otherwise delays small frames (publish/ack) by tens of ms.
    conn = await connect(brokerUrls().amqp, { noDelay: true, timeout: 5_000 });
  });

  afterAll(async () => {
    await conn?.close();
  });

  it('confirms a persistent publish, consumes it with a manual ack, and leaves the queue empty', async () => {
    const queue = uniqueName('smoke.q');
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });

    // Broker confirm: the message is on the queue (and, being persistent, on disk).
    await new Promise<void>((resolve, reject) => {
      ch.sendToQueue(queue, Buffer.from('{"n":1}'), { persistent: true, contentType: 'application/json', messageId: 'm-1' }, (err) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      );
    });

    await ch.prefetch(10);
    const got = deferred<ConsumeMessage>();
    const { consumerTag } = await ch.consume(
      queue,
      (msg) => {
        if (msg) got.resolve(msg);
      },
      { noAck: false },
    );
    const msg = await within(got.promise, 5_000, `a delivery from ${queue}`);
    expect(msg.content.toString()).toBe('{"n":1}');
    expect(msg.properties.deliveryMode).toBe(2);
    expect(msg.properties.messageId).toBe('m-1');
    expect(msg.fields.redelivered).toBe(false);
    ch.ack(msg);
    await ch.cancel(consumerTag);
    // Closing the channel would requeue an unacked message: an empty queue afterwards proves the ack.
    await ch.close();

    const check = await conn.createChannel();
    const state = await check.checkQueue(queue);
    expect(state.messageCount).toBe(0);
    await check.deleteQueue(queue);
    await check.close();
  });
});
