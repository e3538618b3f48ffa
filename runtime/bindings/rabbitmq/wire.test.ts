import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HEADER } from '../../core/headers.ts';
import type { WireMessage } from '../../core/transport.ts';
import { delayBucket, retryQueueName, retryQueueOptions } from './retry-queues.ts';
import { deliveryCountOf, fromConsumeMessage, toPublishOptions } from './wire.ts';

function roundTrip(message: WireMessage, fields: Partial<ConsumeMessage['fields']> = {}): WireMessage {
  const options = toPublishOptions(message, { persistent: true, mandatory: true, now: 1_000 });
  const consumed = {
    content: Buffer.from(message.body),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'contractbus', routingKey: message.topic, consumerTag: 'c', ...fields },
    properties: { headers: options.headers, messageId: options.messageId, correlationId: options.correlationId, contentType: options.contentType, timestamp: options.timestamp, priority: options.priority, expiration: options.expiration },
  } as unknown as ConsumeMessage;
  return fromConsumeMessage(consumed);
}

describe('AMQP wire mapping', () => {
  const base: WireMessage = { messageId: 'm1', topic: 'orders.created', body: Buffer.from('{"a":1}'), headers: { tenant: 'acme', [HEADER.attempt]: '2' }, contentType: 'application/json', timestamp: 1_700_000_000_123 };

  it('puts metadata into native properties', () => {
    const o = toPublishOptions({ ...base, correlationId: 'c1', priority: 7, expiresAt: 6_000 }, { persistent: true, mandatory: true, now: 1_000 });
    expect(o).toMatchObject({ messageId: 'm1', correlationId: 'c1', contentType: 'application/json', timestamp: 1_700_000_000, deliveryMode: 2, mandatory: true, priority: 7, expiration: '5000' });
    expect(toPublishOptions({ ...base, expiresAt: 10 }, { persistent: false, mandatory: false, now: 1_000 })).toMatchObject({ expiration: '0', deliveryMode: 1 });
  });

  it('round-trips headers, key, ms timestamp and expiry exactly', () => {
    const message = { ...base, key: 'k', correlationId: 'c', priority: 3, expiresAt: 9_999 };
    const back = roundTrip(message);
    expect(back).toEqual({ ...message, body: Buffer.from(message.body) });
  });

  it('reads the concrete topic back from a retry copy and converts foreign header types', () => {
    const consumed = {
      content: Buffer.from('x'),
      fields: { deliveryTag: 1, redelivered: true, exchange: '', routingKey: 'g.orders.created', consumerTag: 'c' },
      properties: { headers: { 'x-contractbus-topic': 'orders.created', n: 5, b: Buffer.from('bytes'), 'x-death': [{ count: 1 }], [HEADER.attempt]: '3' } },
    } as unknown as ConsumeMessage;
    const wire = fromConsumeMessage(consumed);
    expect(wire.topic).toBe('orders.created');
    expect(wire.headers).toEqual({ n: '5', b: 'bytes', [HEADER.attempt]: '3' });
    expect(deliveryCountOf(consumed)).toBe(4);
  });

  it('counts deliveries from the attempt header, x-delivery-count, or the redelivered flag', () => {
    const msg = (headers: Record<string, unknown>, redelivered = false) => ({ properties: { headers }, fields: { redelivered } }) as unknown as ConsumeMessage;
    expect(deliveryCountOf(msg({}))).toBe(1);
    expect(deliveryCountOf(msg({}, true))).toBe(2);
    expect(deliveryCountOf(msg({ 'x-delivery-count': 2 }, true))).toBe(3);
    expect(deliveryCountOf(msg({ [HEADER.attempt]: '4' }))).toBe(4);
  });
});

describe('TTL retry queues', () => {
  it('rounds delays to a bounded ladder of buckets close to the asked delay', () => {
    const buckets = new Set<number>();
    for (let ms = 100; ms <= 30_000; ms += 7) {
      const b = delayBucket(ms);
      buckets.add(b);
      expect(Math.abs(b - ms) / ms).toBeLessThan(0.1);
    }
    expect(buckets.size).toBeLessThanOrEqual(55);
    expect(delayBucket(0)).toBe(0);
    expect(delayBucket(200)).toBe(200);
    expect(delayBucket(1_000)).toBe(1_000);
  });

  it('declares a TTL queue that dead-letters back to its queue through the default exchange', () => {
    expect(retryQueueName('g.orders', 200)).toBe('g.orders.retry.200');
    expect(retryQueueOptions('g.orders', 200).arguments).toMatchObject({ 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'g.orders' });
  });
});
