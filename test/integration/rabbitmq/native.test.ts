/**
 * Native RabbitMQ features behave as declared: dead-letter exchanges, TTL (queue and per message),
 * priority, quorum queues with x-delivery-limit, mandatory routing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawDelivery } from '../../../runtime/bindings/rabbitmq/transport.ts';
import { RabbitMQTransport } from '../../../runtime/bindings/rabbitmq/transport.ts';
import { UnroutableError } from '../../../runtime/bindings/rabbitmq/publisher.ts';
import { AMQP_URL, decode, unique, waitFor, wire } from './helpers.ts';

describe('RabbitMQ native features', () => {
  const transport = new RabbitMQTransport({ url: AMQP_URL });
  const queues: string[] = [];
  beforeAll(() => transport.connect());
  afterAll(async () => {
    for (const q of queues) await transport.deleteQueue(q).catch(() => undefined);
    await transport.close();
  });

  /** A direct DLX with one queue behind it; returns the DLQ name and what arrives there. */
  async function deadLetterTarget(name: string) {
    const dlx = `${name}.dlx`;
    const dlq = `${name}.dlq`;
    await transport.declareExchange(dlx, 'direct');
    await transport.declareQueue(dlq);
    await transport.bindQueue(dlq, dlx, 'dead');
    queues.push(dlq);
    const dead: RawDelivery[] = [];
    const sub = await transport.consumeQueue(dlq, (d) => {
      dead.push(d);
      void d.ack();
    });
    return { dlx, dlq, dead, sub };
  }

  it('routes a rejected message through x-dead-letter-exchange, with x-death', async () => {
    const name = unique('dlx');
    const { dlx, dead, sub } = await deadLetterTarget(name);
    await transport.declareQueue(name, { arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
    queues.push(name);
    await transport.bindQueue(name, 'contractbus', name);
    const main = await transport.consumeQueue(name, (d) => void d.nack({ requeue: false }));
    await transport.send(wire(name, { v: 1 }, { headers: { tenant: 'acme' } }), { timeoutMs: 5_000 });
    await waitFor(() => dead.length === 1);
    const d = dead[0]!;
    expect(decode(d.message)).toEqual({ v: 1 });
    expect(d.message.headers.tenant).toBe('acme');
    expect(d.raw.properties.headers?.['x-first-death-reason']).toBe('rejected');
    expect(d.raw.properties.headers?.['x-death']?.[0]?.queue).toBe(name);
    await main.close();
    await sub.close();
  });

  it('expires messages natively: queue x-message-ttl and per-message expiration both dead-letter as expired', async () => {
    const name = unique('ttl');
    const { dlx, dead, sub } = await deadLetterTarget(name);
    const queueTtl = `${name}.queue-ttl`;
    const perMessage = `${name}.per-message`;
    await transport.declareQueue(queueTtl, { arguments: { 'x-message-ttl': 100, 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
    await transport.declareQueue(perMessage, { arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
    queues.push(queueTtl, perMessage);
    await transport.bindQueue(queueTtl, 'contractbus', queueTtl);
    await transport.bindQueue(perMessage, 'contractbus', perMessage);
    await transport.send(wire(queueTtl, { via: 'queue' }), { timeoutMs: 5_000 });
    await transport.send(wire(perMessage, { via: 'message' }, { expiresAt: Date.now() + 100 }), { timeoutMs: 5_000 });
    await transport.send(wire(perMessage, { via: 'amqp expiration' }), { timeoutMs: 5_000, amqp: { expiration: 100 } });
    await waitFor(() => dead.length === 3, 5_000, 'three expired messages');
    expect(dead.map((d) => d.raw.properties.headers?.['x-first-death-reason'])).toEqual(['expired', 'expired', 'expired']);
    expect(dead.map((d) => (decode(d.message) as { via: string }).via).sort()).toEqual(['amqp expiration', 'message', 'queue']);
    expect((await transport.queueDepth(perMessage))?.messageCount).toBe(0);
    await sub.close();
  });

  it('delivers higher priority first from a queue declared with x-max-priority', async () => {
    const name = unique('prio');
    await transport.declareQueue(name, { arguments: { 'x-max-priority': 9 } });
    queues.push(name);
    await transport.bindQueue(name, 'contractbus', name);
    for (const priority of [1, 1, 5, 9, 0]) await transport.send(wire(name, { priority }, { priority }), { timeoutMs: 5_000 });
    const order: number[] = [];
    const sub = await transport.consumeQueue(name, (d) => {
      order.push(d.message.priority ?? -1);
      void d.ack();
    }, { prefetch: 1 });
    await waitFor(() => order.length === 5);
    expect(order).toEqual([9, 5, 1, 1, 0]);
    await sub.close();
  });

  it('honours priority on subscription queues when the client sets maxPriority', async () => {
    const prioritised = new RabbitMQTransport({ url: AMQP_URL, maxPriority: 9 });
    await prioritised.connect();
    expect(prioritised.capabilities.nativePriority).toBe(true);
    expect(transport.capabilities.nativePriority).toBe(false);
    const topic = unique('prio.sub');
    const first = await prioritised.consume({ topic, group: 'g', prefetch: 1, startFrom: 'earliest' }, async (d) => d.ack());
    await first.close();
    for (const priority of [0, 2, 7]) await prioritised.send(wire(topic, { priority }, { priority }), { timeoutMs: 5_000 });
    const order: number[] = [];
    const second = await prioritised.consume({ topic, group: 'g', prefetch: 1, startFrom: 'earliest' }, async (d) => {
      order.push(d.message.priority ?? -1);
      await d.ack();
    });
    await waitFor(() => order.length === 3);
    expect(order).toEqual([7, 2, 0]);
    await second.close();
    await prioritised.deleteQueue(`g.${topic}`);
    await prioritised.close();
  });

  it('ends a poison message in the DLQ via a quorum queue x-delivery-limit, counting deliveries', async () => {
    const name = unique('quorum');
    const { dlx, dead, sub } = await deadLetterTarget(name);
    await transport.declareQueue(name, { arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
    queues.push(name);
    await transport.bindQueue(name, 'contractbus', name);
    const counts: number[] = [];
    const main = await transport.consumeQueue(name, (d) => {
      counts.push(d.deliveryCount);
      void d.nack({ requeue: true });
    });
    await transport.send(wire(name, { poison: true }), { timeoutMs: 5_000 });
    await waitFor(() => dead.length === 1, 10_000, 'the poison message in the DLQ');
    expect(counts).toEqual([1, 2, 3]);
    expect(decode(dead[0]!.message)).toEqual({ poison: true });
    await main.close();
    await sub.close();
  });

  it('mandatory: off by default (counted), per publish or per client it fails unroutable messages', async () => {
    const topic = unique('unroutable');
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000 })).resolves.toEqual({});
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: true } })).rejects.toBeInstanceOf(UnroutableError);
    await expect(transport.send(wire(topic, {}), { timeoutMs: 5_000, amqp: { mandatory: false } })).resolves.toEqual({});
    const strict = new RabbitMQTransport({ url: AMQP_URL, mandatory: true });
    await strict.connect();
    await expect(strict.send(wire(topic, {}), { timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnroutableError);
    await strict.close();
  });
});
