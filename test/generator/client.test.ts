/**
 * Generated clients at run time. A recording fake `MessageBroker` proves the generated code calls the
 * runtime correctly (topics, validation before send, headers, options, validators); the MemoryBroker
 * round trip proves it works end to end, including dead-lettering of invalid incoming messages.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker, MemoryHub, ValidationError } from '../../runtime/index.ts';
import type { MessageBroker, MessageHandler, MessageMetadata, PublishOptions, SubscribeOptions, Subscription } from '../../runtime/index.ts';
import { fixturePath, freshDir, generateInto, specPath, writeRuntimeShim } from './helpers.ts';

interface Recorded {
  publishes: Array<{ topic: string; message: unknown; options: PublishOptions | undefined }>;
  subscribes: Array<{ topic: string; handler: MessageHandler<unknown>; options: SubscribeOptions<unknown> | undefined }>;
}

/** `patternSubscribe: false` stands for Kafka / Redis Streams: parameterised channels collapse onto one topic. */
function fakeBroker(patternSubscribe = true, consumerGroups = true): MessageBroker & Recorded {
  const recorded: Recorded = { publishes: [], subscribes: [] };
  const subscription: Subscription = { topic: '', group: undefined, close: async () => {}, [Symbol.asyncDispose]: async () => {} };
  return {
    ...recorded,
    name: 'fake',
    capabilities: { patternSubscribe, consumerGroups } as MessageBroker['capabilities'],
    connect: async () => {},
    disconnect: async () => {},
    publish: async (topic, message, options) => {
      recorded.publishes.push({ topic, message, options });
      return { messageId: 'm1', topic };
    },
    subscribe: async <T,>(topic: string, handler: MessageHandler<T>, options?: SubscribeOptions<T>) => {
      recorded.subscribes.push({ topic, handler: handler as MessageHandler<unknown>, options: options as SubscribeOptions<unknown> | undefined });
      return subscription;
    },
    sendToDlq: async () => {},
    getMetrics: () => ({}) as ReturnType<MessageBroker['getMetrics']>,
    healthCheck: async () => ({ isHealthy: true, issues: [], details: {} }),
    [Symbol.asyncDispose]: async () => {},
  };
}

type AnyClient = Record<string, (...args: unknown[]) => Promise<unknown>>;
let createShopClient: (broker: MessageBroker) => AnyClient;
let createCriticalEventsClient: (broker: MessageBroker) => AnyClient;
let createNotificationsClient: (broker: MessageBroker) => AnyClient;
let createUserEventsClient: (broker: MessageBroker) => AnyClient;

beforeAll(async () => {
  const dir = await freshDir('client');
  await writeRuntimeShim(dir);
  const options = { importExtension: '.ts' as const, runtimeImport: '../contractbus-shim.ts' };
  await generateInto(dir, specPath('shop'), options);
  await generateInto(dir, specPath('critical'), options);
  await generateInto(dir, specPath('notifications'), options);
  await generateInto(dir, specPath('users'), options);
  ({ createShopClient } = await import(path.join(dir, 'shop/index.ts')));
  ({ createCriticalEventsClient } = await import(path.join(dir, 'critical-events/index.ts')));
  ({ createNotificationsClient } = await import(path.join(dir, 'notifications/index.ts')));
  ({ createUserEventsClient } = await import(path.join(dir, 'user-events/index.ts')));
});

const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';
const status = { orderId, status: 'paid', changedAt: '2026-03-01T12:00:00Z' };

describe('generated publish functions', () => {
  it('validate, build the topic from parameters, type headers and pass options through', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    await shop['publishOrderStatus']?.({ orderId }, status, { headers: { correlationId: 'req-789' }, key: orderId, extraHeaders: { traceparent: 't' } });
    expect(broker.publishes).toEqual([
      {
        topic: `orders.${orderId}.status`,
        message: status,
        options: { contentType: 'application/json', key: orderId, headers: { traceparent: 't', correlationId: 'req-789' }, correlationId: 'req-789' },
      },
    ]);
  });

  it('throws ValidationError (outgoing, with zod issues) and publishes nothing for an invalid payload', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    const error = await shop['publishOrderStatus']?.({ orderId }, { ...status, status: 'lost' }, { headers: { correlationId: 'c' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ direction: 'outgoing', topic: 'orders.{orderId}.status', retryable: false });
    expect((error as ValidationError).issues[0]).toMatchObject({ path: ['status'], code: 'invalid_value' });
    expect(broker.publishes).toEqual([]);
  });

  it('rejects missing headers and parameter values that would change routing', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    await expect(shop['publishOrderStatus']?.({ orderId }, status, { headers: {} })).rejects.toMatchObject({ name: 'ValidationError', issues: [{ path: ['correlationId'] }] });
    for (const bad of ['a.b', '*', '#', 'a b', '']) {
      await expect(shop['publishOrderStatus']?.({ orderId: bad }, status, { headers: { correlationId: 'c' } })).rejects.toBeInstanceOf(ValidationError);
    }
    expect(broker.publishes).toEqual([]);
  });

  it('fills a parameter default before building the topic', async () => {
    const dir = await freshDir('client-param-default');
    await writeRuntimeShim(dir);
    await generateInto(dir, fixturePath('param-default.yaml'), { importExtension: '.ts', runtimeImport: '../contractbus-shim.ts' });
    const { createParamDefaultClient } = (await import(path.join(dir, 'param-default/index.ts'))) as { createParamDefaultClient: (b: MessageBroker) => AnyClient };
    const broker = fakeBroker();
    await createParamDefaultClient(broker)['sendMail']?.({ region: 'eu' }, 'hello');
    expect(broker.publishes[0]?.topic).toBe('mail.welcome.eu');
  });

  it('checks parameter enums and stringifies non-string headers', async () => {
    const broker = fakeBroker();
    const mail = createNotificationsClient(broker);
    const email = { to: ['ada@example.com'], subject: 'hi', template: 'welcome-v2' };
    await expect(mail['sendEmailNotification']?.({ kind: 'sms' }, email, { headers: { correlationId: 'c' } })).rejects.toMatchObject({ issues: [{ path: ['kind'] }] });
    await mail['sendEmailNotification']?.({ kind: 'welcome' }, email, { headers: { correlationId: 'c', priority: 5 } });
    expect(broker.publishes[0]).toMatchObject({ topic: 'notifications.email.welcome', options: { headers: { correlationId: 'c', priority: '5' } } });
  });
});

describe('generated subscribe functions', () => {
  it('subscribe to the pattern without parameters, the concrete topic with all of them, and pass a validator', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    await shop['onOrderStatus']?.(() => {}, { concurrency: 10 });
    await shop['onOrderStatus']?.(() => {}, { params: { orderId } });
    expect(broker.subscribes.map((s) => s.topic)).toEqual(['orders.*.status', `orders.${orderId}.status`]);
    const options = broker.subscribes[0]?.options;
    expect(options).toMatchObject({ concurrency: 10 });
    expect(options).not.toHaveProperty('params');
    const validate = options?.validate;
    expect(validate?.(status)).toEqual(status);
    expect(() => validate?.({ ...status, changedAt: 'yesterday' })).toThrow(ValidationError);
    try {
      validate?.({});
    } catch (error) {
      expect(error).toMatchObject({ direction: 'incoming', retryable: false });
    }
  });

  it('give the handler the channel parameters read from the concrete topic', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    const seen: Array<{ id: string; topic: string; acked: boolean }> = [];
    await shop['onOrderStatus']?.((_event: unknown, meta: MessageMetadata & { params: { orderId: string } }) => {
      seen.push({ id: meta.params.orderId, topic: meta.topic, acked: false });
      return meta.ack();
    });
    let acked = 0;
    const metadata = { messageId: 'm', correlationId: undefined, headers: { correlationId: 'c-1' }, topic: 'orders.42.status', key: undefined, timestamp: new Date(), attempt: 1, redelivered: false, ack: async () => void acked++, nack: async () => {} };
    await broker.subscribes[0]?.handler(status, metadata);
    expect(seen).toEqual([{ id: '42', topic: 'orders.42.status', acked: false }]);
    expect(acked).toBe(1);
  });

  it('default the consumer group from a fixed Kafka binding groupId, and let options override it', async () => {
    const broker = fakeBroker();
    const shop = createShopClient(broker);
    await shop['onPayment']?.(() => {});
    await shop['onPayment']?.(() => {}, { group: 'mine' });
    expect(broker.subscribes.map((s) => s.options?.group)).toEqual(['shop-payments', 'mine']);
  });

  it('the contract default group applies only on brokers with consumer groups (Redis Pub/Sub fans out)', async () => {
    const broker = fakeBroker(true, false);
    const shop = createShopClient(broker);
    await shop['onPayment']?.(() => {});
    await shop['onPayment']?.(() => {}, { group: 'mine' });
    expect(broker.subscribes.map((s) => s.options?.group)).toEqual([undefined, 'mine']);
  });

  it('default the dead-letter topic from the contract, and let options override it', async () => {
    const broker = fakeBroker();
    const critical = createCriticalEventsClient(broker);
    await critical['onCriticalEvent']?.(() => {});
    await critical['onCriticalEvent']?.(() => {}, { deadLetterTopic: 'elsewhere' });
    expect(broker.subscribes.map((s) => s.options?.deadLetterTopic)).toEqual(['critical.events.dlq', 'elsewhere']);
  });
});

describe('generated client on a broker without pattern subscribe (collapsed routing)', () => {
  const deliveryOf = (headers: Record<string, string>, onAck: () => void = () => {}): MessageMetadata => ({
    messageId: 'm',
    correlationId: undefined,
    headers,
    topic: 'orders.status',
    key: undefined,
    timestamp: new Date(),
    attempt: 1,
    redelivered: false,
    ack: async () => onAck(),
    nack: async () => {},
  });

  it('publishes to the collapsed topic with the parameters as headers and the key from them', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    await shop['publishOrderStatus']?.({ orderId }, status, { headers: { correlationId: 'req-789' } });
    await shop['publishOrderStatus']?.({ orderId }, status, { headers: { correlationId: 'req-790' }, key: 'mine' });
    expect(broker.publishes[0]).toEqual({
      topic: 'orders.status',
      message: status,
      options: { contentType: 'application/json', key: orderId, headers: { correlationId: 'req-789', 'x-contractbus-param-orderId': orderId }, correlationId: 'req-789' },
    });
    expect(broker.publishes[1]?.options?.key).toBe('mine');
  });

  it('a parameter header cannot be overridden by extraHeaders', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    await shop['publishOrderStatus']?.({ orderId }, status, { headers: { correlationId: 'c' }, extraHeaders: { 'x-contractbus-param-orderId': 'other' } });
    expect(broker.publishes[0]?.options?.headers?.['x-contractbus-param-orderId']).toBe(orderId);
  });

  it('subscribes to the collapsed topic whatever the parameters, and reads them from the headers', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    const seen: string[] = [];
    await shop['onOrderStatus']?.((_event: unknown, meta: { params: { orderId: string } }) => void seen.push(meta.params.orderId));
    await shop['onOrderStatus']?.(() => {}, { params: { orderId } });
    expect(broker.subscribes.map((s) => s.topic)).toEqual(['orders.status', 'orders.status']);
    expect(broker.subscribes[1]?.options).not.toHaveProperty('params');
    await broker.subscribes[0]?.handler(status, deliveryOf({ correlationId: 'c', 'x-contractbus-param-orderId': '42' }));
    expect(seen).toEqual(['42']);
  });

  it('acks and skips messages of other parameter values when the caller fixed some', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    const seen: string[] = [];
    await shop['onOrderStatus']?.((_event: unknown, meta: { params: { orderId: string } }) => void seen.push(meta.params.orderId), { params: { orderId: '42' } });
    let acked = 0;
    await broker.subscribes[0]?.handler(status, deliveryOf({ correlationId: 'c', 'x-contractbus-param-orderId': '43' }, () => acked++));
    expect(seen).toEqual([]);
    expect(acked).toBe(1);
    await broker.subscribes[0]?.handler(status, deliveryOf({ correlationId: 'c', 'x-contractbus-param-orderId': '42' }, () => acked++));
    expect(seen).toEqual(['42']);
  });

  it('a message without the parameter headers is a ValidationError (the pipeline dead-letters it)', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    let handled = 0;
    await shop['onOrderStatus']?.(() => void handled++);
    await expect(broker.subscribes[0]?.handler(status, deliveryOf({ correlationId: 'c' }))).rejects.toMatchObject({ name: 'ValidationError', direction: 'incoming' });
    expect(handled).toBe(0);
  });

  it('channels without parameters keep their address', async () => {
    const broker = fakeBroker(false);
    const shop = createShopClient(broker);
    await shop['onPayment']?.(() => {});
    expect(broker.subscribes[0]?.topic).toBe('shop.payments');
  });
});

describe('generated client over the MemoryBroker', () => {
  let broker: MemoryBroker;
  beforeAll(async () => {
    broker = new MemoryBroker({ hub: new MemoryHub() });
    await broker.connect();
  });
  afterAll(async () => {
    await broker.disconnect();
  });

  it('round-trips a typed message through a pattern subscription with parameters', async () => {
    const shop = createShopClient(broker);
    const received = new Promise<{ event: unknown; params: unknown; correlationId: string | undefined }>((resolve) => {
      void shop['onOrderStatus']?.((event: unknown, meta: MessageMetadata & { params: unknown }) => resolve({ event, params: meta.params, correlationId: meta.correlationId }), { startFrom: 'earliest' });
    });
    await shop['publishOrderStatus']?.({ orderId }, status, { headers: { correlationId: 'req-1' } });
    expect(await received).toEqual({ event: status, params: { orderId }, correlationId: 'req-1' });
  });

  it('validates incoming contract headers (JSON-decoded where typed) and dead-letters a message without them', async () => {
    const shop = createShopClient(broker);
    const dlq = `orders.dlq.${Math.random().toString(36).slice(2)}`;
    const handled: unknown[] = [];
    await shop['onOrderStatus']?.((_event: unknown, meta: { contractHeaders: unknown }) => void handled.push(meta.contractHeaders), { params: { orderId: 'h1' }, deadLetterTopic: dlq, maxRetries: 0 });
    const deadLettered = new Promise<unknown>((resolve) => void broker.subscribe(dlq, (payload) => resolve(payload)));
    await broker.publish('orders.h1.status', { ...status, orderId }, {});
    expect(await deadLettered).toMatchObject({ status: 'paid' });
    expect(handled).toEqual([]);
    await broker.publish('orders.h1.status', status, { headers: { correlationId: 'ok-1', tenant: 't' } });
    await expect.poll(() => handled).toEqual([{ correlationId: 'ok-1', tenant: 't' }]);
  });

  it('sends what validation produced (defaults applied) and delivers each message of a union to one handler', async () => {
    const users = createUserEventsClient(broker);
    const received: unknown[] = [];
    await users['onUserEvent']?.((event: unknown) => void received.push(event));
    const userId = '3d6f0a52-1c1e-4f7b-9a55-0c2f5e8e4b11';
    await users['publishUserEvent']?.({ type: 'user_created', userId, email: 'ada@example.com', createdAt: '2026-01-02T03:04:05Z' });
    await users['publishUserEvent']?.({ type: 'profile_updated', userId, changes: { locale: 'de-DE' } });
    await expect(users['publishUserEvent']?.({ type: 'login', userId, at: '2026-01-02T03:04:05Z' })).rejects.toBeInstanceOf(ValidationError);
    await expect.poll(() => received.length).toBe(2);
    expect(received).toEqual([
      { type: 'user_created', userId, email: 'ada@example.com', createdAt: '2026-01-02T03:04:05Z', roles: ['customer'] },
      { type: 'profile_updated', userId, changes: { locale: 'de-DE' } },
    ]);
  });

  it('dead-letters an invalid incoming message to the contract topic and never calls the handler', async () => {
    const critical = createCriticalEventsClient(broker);
    let handled = 0;
    await critical['onCriticalEvent']?.(() => void handled++, { maxRetries: 0 });
    const deadLettered = new Promise<{ payload: unknown; headers: Readonly<Record<string, string>> }>((resolve) => {
      void broker.subscribe('critical.events.dlq', (payload, meta) => resolve({ payload, headers: meta.headers }));
    });
    await broker.publish('critical.events', { eventId: 'not-a-uuid', severity: 'meh' });
    const dead = await deadLettered;
    expect(dead.payload).toEqual({ eventId: 'not-a-uuid', severity: 'meh' });
    expect(Object.values(dead.headers).join(' ')).toMatch(/eventId|severity/);
    expect(handled).toBe(0);
  });
});
