/**
 * RabbitMQClient end to end: the generic MessageBroker over RabbitMQ (validation, retry through
 * TTL retry queues, dead-letter with reason headers) and the native extras (declare/bind, AMQP
 * publish options, consume with ackMessage / nackMessage).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as amqpConnect } from 'amqplib';
import { connect } from '../../../runtime/core/connect.ts';
import { NonRetryableError } from '../../../runtime/core/errors.ts';
import { HEADER } from '../../../runtime/core/headers.ts';
import type { MessageMetadata } from '../../../runtime/core/types.ts';
import { fromUrl, RabbitMQClient, UnroutableError, type RabbitMQMessage } from '../../../runtime/bindings/rabbitmq/index.ts';
import { AMQP_URL, unique, waitFor } from './helpers.ts';

describe('RabbitMQClient', () => {
  const client = new RabbitMQClient({ url: AMQP_URL });
  beforeAll(() => client.connect());
  afterAll(() => client.disconnect({ timeoutMs: 2_000 }));

  it('publishes and subscribes with validation, metadata and headers', async () => {
    const topic = unique('orders.created');
    const got: Array<{ message: { id: number }; meta: MessageMetadata }> = [];
    const sub = await client.subscribe<{ id: number }>(topic, (message, meta) => void got.push({ message, meta }), {
      group: 'billing',
      validate: (p) => {
        if (typeof (p as { id?: unknown }).id !== 'number') throw new Error('id must be a number');
        return p as { id: number };
      },
    });
    const receipt = await client.publish(topic, { id: 7 }, { headers: { tenant: 'acme' }, correlationId: 'c-1', priority: 4 });
    await waitFor(() => got.length === 1);
    expect(got[0]!.message).toEqual({ id: 7 });
    expect(got[0]!.meta.messageId).toBe(receipt.messageId);
    expect(got[0]!.meta.correlationId).toBe('c-1');
    expect(got[0]!.meta.headers.tenant).toBe('acme');
    expect(got[0]!.meta.topic).toBe(topic);
    expect(got[0]!.meta.attempt).toBe(1);
    await sub.close();
    await client.deleteQueue(`billing.${topic}`);
  });

  it('retries through TTL retry queues, then dead-letters with reason headers into a kept DLQ queue', async () => {
    const topic = unique('payments');
    const attempts: number[] = [];
    const sub = await client.subscribe(topic, (_m, meta) => {
      attempts.push(meta.attempt);
      throw new Error('card declined');
    }, { group: 'pay', maxRetries: 2, retryDelay: 50, jitter: 0 });
    await client.publish(topic, { amount: 5 });
    await waitFor(() => attempts.length === 3, 10_000, 'three attempts');
    expect(attempts).toEqual([1, 2, 3]);
    // The dead letter waits in a durable queue named after the dead-letter topic, subscriber or not.
    await waitFor(async () => (await client.queueDepth(`${topic}.dlq`)) === 1, 10_000, 'the dead letter');
    const dead: RabbitMQMessage[] = [];
    const consumer = await client.consume(`${topic}.dlq`, (m) => {
      dead.push(m);
      return client.ackMessage(m.deliveryTag);
    });
    await waitFor(() => dead.length === 1);
    expect(dead[0]!.content).toEqual({ amount: 5 });
    expect(dead[0]!.headers[HEADER.dlqOriginalTopic]).toBe(topic);
    expect(dead[0]!.headers[HEADER.dlqErrorMessage]).toBe('card declined');
    expect(dead[0]!.headers[HEADER.dlqAttempts]).toBe('3');
    await consumer.close();
    await sub.close();
    for (const q of [`pay.${topic}`, `${topic}.dlq`]) await client.deleteQueue(q);
  });

  it('publishes with native AMQP options: mandatory, expiration, another exchange', async () => {
    const topic = unique('native');
    await expect(client.publish(topic, { x: 1 }, { mandatory: true })).rejects.toBeInstanceOf(UnroutableError);
    await expect(client.publish(topic, { x: 1 })).resolves.toMatchObject({ topic });
    const exchange = unique('ex.direct');
    const queue = unique('q');
    await client.declareExchange(exchange, 'direct');
    // No x-max-priority here: RabbitMQ only expires messages at the head of a queue, and in a
    // priority queue a higher-priority message would sit in front of the short-lived one.
    await client.declareQueue(queue);
    await client.bindQueue(queue, exchange, 'k');
    await client.publish('k', { fast: true }, { exchange, confirm: false, persistent: false }); // fire and forget
    await waitFor(async () => (await client.queueDepth(queue)) === 1, 5_000, 'the unconfirmed message');
    await client.deleteQueue(queue);
    await client.declareQueue(queue);
    await client.bindQueue(queue, exchange, 'k');
    await client.publish('k', { short: true }, { exchange, expiration: 1 });
    await client.publish('k', { keep: true }, { exchange });
    await waitFor(async () => (await client.queueDepth(queue)) === 1, 5_000, 'the short-lived message to expire');
    await client.deleteQueue(queue);
  });

  it('consumes any queue with manual ackMessage / nackMessage and bounded concurrency', async () => {
    const queue = unique('manual');
    await client.declareQueue(queue);
    await client.bindQueue(queue, 'contractbus', queue);
    for (let i = 0; i < 6; i++) await client.publish(queue, { i });
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    let nacked = false;
    const consumer = await client.consume<{ i: number }>(queue, async (m) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      if (m.content.i === 0 && !nacked) {
        nacked = true;
        await client.nackMessage(m.deliveryTag, { requeue: true });
        return;
      }
      seen.push(m.content.i);
      await client.ackMessage(m.deliveryTag);
    }, { concurrency: 2, prefetch: 4 });
    await waitFor(() => seen.length === 6);
    expect(maxRunning).toBeLessThanOrEqual(2);
    await expect(client.ackMessage(999_999)).rejects.toThrow(/Unknown or already settled/);
    await consumer.close();
    expect(await client.queueDepth(queue)).toBe(0);
    await client.deleteQueue(queue);
  });

  it('consume with autoAck acks on success and rejects (to the DLX) on failure, never requeue-looping', async () => {
    const queue = unique('auto');
    const dlx = `${queue}.dlx`;
    await client.declareExchange(dlx, 'fanout');
    await client.declareQueue(`${queue}.dead`);
    await client.bindQueue(`${queue}.dead`, dlx, '');
    await client.declareQueue(queue, { arguments: { 'x-dead-letter-exchange': dlx } });
    await client.bindQueue(queue, 'contractbus', queue);
    let calls = 0;
    const consumer = await client.consume<{ ok: boolean }>(queue, (m) => {
      calls++;
      if (!m.content.ok) throw new Error('bad');
    }, { autoAck: true });
    await client.publish(queue, { ok: true });
    await client.publish(queue, { ok: false });
    await waitFor(async () => (await client.queueDepth(`${queue}.dead`)) === 1, 5_000, 'the rejected message in the DLX queue');
    expect(calls).toBe(2);
    expect(await client.queueDepth(queue)).toBe(0);
    await consumer.close();
    for (const q of [queue, `${queue}.dead`]) await client.deleteQueue(q);
  });

  it('is built from a URL, and over an existing amqplib connection it does not own', async () => {
    const byUrl = fromUrl(new URL(AMQP_URL));
    await byUrl.connect();
    expect(byUrl.name).toBe('rabbitmq');
    expect((await byUrl.healthCheck()).isHealthy).toBe(true);
    await byUrl.disconnect();

    const connection = await amqpConnect(AMQP_URL);
    const borrowed = new RabbitMQClient(connection);
    await borrowed.connect();
    const topic = unique('borrowed');
    const got: unknown[] = [];
    const sub = await borrowed.subscribe(topic, (m) => void got.push(m), { group: 'g' });
    await borrowed.publish(topic, { ok: true });
    await waitFor(() => got.length === 1);
    await sub.close();
    await borrowed.deleteQueue(`g.${topic}`);
    await borrowed.disconnect();
    // still open: contractbus did not close a connection it did not create
    const channel = await connection.createChannel();
    await channel.close();
    await connection.close();
  });

  it('is what connect("amqp://…") returns', async () => {
    const broker = await connect(AMQP_URL);
    expect(broker).toBeInstanceOf(RabbitMQClient);
    await broker.disconnect();
  });

  it('dead-letters into an existing dead-letter queue declared with other arguments', async () => {
    const topic = unique('dlq.args');
    await client.declareQueue(`${topic}.dlq`, { arguments: { 'x-max-length': 1000 } });
    const sub = await client.subscribe(topic, () => {
      throw new NonRetryableError('no');
    }, { group: 'g' });
    await client.publish(topic, { x: 1 });
    await waitFor(async () => (await client.queueDepth(`${topic}.dlq`)) === 1, 5_000, 'the dead letter');
    await sub.close();
    for (const q of [`g.${topic}`, `${topic}.dlq`]) await client.deleteQueue(q);
  });

  it('reports health with connection, channels and queue depths', async () => {
    const topic = unique('health');
    const sub = await client.subscribe(topic, () => undefined, { group: 'h' });
    const health = await client.healthCheck();
    expect(health.isHealthy).toBe(true);
    const transport = health.details.transport as Record<string, unknown>;
    expect(transport.connection).toBe('connected');
    expect(transport.publisherChannel).toBe('open');
    expect(transport.queueDepths).toEqual({ [`h.${topic}`]: 0 });
    await sub.close();
    await client.deleteQueue(`h.${topic}`);
  });
});
