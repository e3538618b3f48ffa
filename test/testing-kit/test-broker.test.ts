import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../runtime/index.ts';
import { createTestBroker, type TestBroker } from '../../runtime/testing/index.ts';

const uid = (): string => Math.random().toString(36).slice(2, 8);

async function caught(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('createTestBroker', () => {
  it('records every published message with payload, headers and metadata', async () => {
    await using broker = await createTestBroker();
    const topic = `orders.${uid()}.created`;
    await broker.publish(topic, { id: 1, items: ['a'] }, { headers: { tenant: 't1' }, key: 'k1', correlationId: 'c1', priority: 3, ttl: 60 });
    const [message, ...rest] = broker.published<{ id: number }>(topic);
    expect(rest).toEqual([]);
    expect(message?.payload.id).toBe(1);
    expect(message).toMatchObject({ topic, headers: { tenant: 't1' }, key: 'k1', correlationId: 'c1', priority: 3, contentType: 'application/json', sequence: 1 });
    expect(message?.expiresAt).toBeInstanceOf(Date);
    expect(broker.published('orders.*.created')).toHaveLength(1);
    expect(broker.published('orders.#')).toHaveLength(1);
    expect(broker.published('other')).toEqual([]);
  });

  it('each test broker has its own hub: nothing leaks between them', async () => {
    await using a = await createTestBroker();
    await using b = await createTestBroker();
    const seen: unknown[] = [];
    await b.subscribe('shared', (m) => void seen.push(m), { startFrom: 'earliest' });
    await a.publish('shared', 1);
    await a.idle();
    await b.idle();
    expect(seen).toEqual([]);
    expect(b.published('shared')).toEqual([]);
  });

  it('waitFor resolves on a later message, event driven, and on one already published', async () => {
    await using broker = await createTestBroker();
    const topic = `t.${uid()}`;
    await broker.publish(topic, { n: 1 });
    expect((await broker.waitFor(topic)).payload).toEqual({ n: 1 });
    const pending = broker.waitFor<{ n: number }>(topic, { n: 3 });
    await broker.publish(topic, { n: 2 });
    await broker.publish(topic, { n: 3 });
    expect((await pending).payload.n).toBe(3);
    const byPredicate = await broker.waitFor<{ n: number }>(topic, (m) => m.payload.n === 2);
    expect(byPredicate.sequence).toBe(2);
  });

  it('waitFor times out with what WAS published on the topic, and where else messages went', async () => {
    await using broker = await createTestBroker();
    const topic = `t.${uid()}`;
    await broker.publish(topic, { status: 'paid' });
    await broker.publish(`${topic}x`, { status: 'elsewhere' });
    const error = await caught(() => broker.waitFor(topic, { status: 'shipped' }, { timeout: 50 }));
    expect(error.name).toBe('WaitForTimeoutError');
    expect(error.message).toContain(`waitFor: no message matching { status: 'shipped' } on "${topic}" within 50 ms. Published on "${topic}" (1)`);
    expect(error.message).toContain("payload: { status: 'paid' }");
    expect(error.message).toContain(`Other topics with messages: "${topic}x"`);
  });

  it('expectPublished: partial payload, headers, times, asymmetric matchers; AssertionError with actual/expected', async () => {
    await using broker = await createTestBroker();
    const topic = `t.${uid()}`;
    await broker.publish(topic, { id: 'a1', status: 'paid', lines: [{ sku: 'x', qty: 2 }] }, { headers: { correlationId: 'r-1' } });
    const hit = broker.expectPublished<{ id: string; status: string; lines: Array<{ sku: string; qty: number }> }>(topic, { status: 'paid', lines: [{ qty: 2 }] }, { headers: { correlationId: /^r-/ } });
    expect(hit.payload.id).toBe('a1');
    broker.expectPublished(topic, { id: expect.any(String) }, { times: 1 });
    broker.expectPublished(topic, (m) => m.headers['correlationId'] === 'r-1');

    const error = await caught(() => broker.expectPublished(topic, { status: 'shipped' }));
    expect(error).toBeInstanceOf(AssertionError);
    const assertion = error as AssertionError;
    expect(assertion.expected).toEqual({ status: 'shipped' });
    expect(assertion.actual).toEqual({ status: 'paid' });
    expect(assertion.message).toContain(`expected a message matching { status: 'shipped' } on "${topic}", found 0 matching of 1 published`);
    // Arrays match element by element with the same length (like toMatchObject).
    expect(() => broker.expectPublished(topic, { lines: [] })).toThrow(AssertionError);
    expect(() => broker.expectPublished(topic, undefined, { times: 2 })).toThrow(/expected 2 message\(s\)/);
    expect(() => broker.expectNotPublished(topic)).toThrow(AssertionError);
    broker.expectNotPublished(`${topic}.none`);
  });

  it('deadLettered / waitForDeadLetter: the runtime copies with reason and attempts', async () => {
    await using broker = await createTestBroker();
    const topic = `jobs.${uid()}`;
    await broker.subscribe(
      topic,
      () => {
        throw new Error('boom');
      },
      { maxRetries: 1, retryDelay: 1, jitter: 0 },
    );
    const waiting = broker.waitForDeadLetter<{ job: number }>(topic, { job: 1 });
    await broker.publish(topic, { job: 1 });
    const dead = await waiting;
    expect(dead).toMatchObject({ originalTopic: topic, topic: `${topic}.dlq`, attempts: 2, errorMessage: 'boom', payload: { job: 1 } });
    expect(dead.reason).toMatch(/handler failed after 2 attempts/);
    await broker.idle();
    expect(broker.deadLettered(topic)).toHaveLength(1);
    expect(broker.deadLettered('jobs.*')).toHaveLength(1);
    // The dead-letter copy is also a published message on the DLQ topic.
    expect(broker.published(`${topic}.dlq`)).toHaveLength(1);
  });

  it('invalid incoming messages are dead-lettered with "validation failed"', async () => {
    await using broker = await createTestBroker();
    const topic = `v.${uid()}`;
    await broker.subscribe<{ n: number }>(topic, () => {}, {
      validate: (value) => {
        if (typeof (value as { n?: unknown }).n !== 'number') throw new ValidationError('n must be a number', [{ path: ['n'], message: 'expected number', code: 'invalid_type' }]);
        return value as { n: number };
      },
    });
    await broker.publish(topic, { n: 'x' });
    const dead = await broker.waitForDeadLetter(topic);
    expect(dead.reason).toBe('validation failed');
  });

  it('idle() waits until deliveries settled; reset() forgets the records', async () => {
    await using broker = await createTestBroker();
    const topic = `i.${uid()}`;
    const handled: number[] = [];
    await broker.subscribe<number>(topic, async (n) => {
      await new Promise((r) => setImmediate(r));
      handled.push(n);
    });
    for (let i = 0; i < 5; i++) await broker.publish(topic, i);
    await broker.idle();
    expect(handled).toEqual([0, 1, 2, 3, 4]);
    broker.reset();
    expect(broker.published(topic)).toEqual([]);
    expect(broker.all()).toEqual([]);
  });

  it('a refused publish is not recorded', async () => {
    const broker: TestBroker = await createTestBroker();
    await broker.disconnect();
    await expect(broker.publish('x', 1)).rejects.toThrow(/disconnected/);
    expect(broker.all()).toEqual([]);
  });
});
