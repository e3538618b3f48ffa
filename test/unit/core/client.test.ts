import { afterEach, describe, expect, it, vi } from 'vitest';
import { BrokerClient } from '../../../runtime/core/client.ts';
import { CapabilityError, CircuitOpenError, ClosedError, ConfigurationError, NonRetryableError, TimeoutError } from '../../../runtime/core/errors.ts';
import { HEADER } from '../../../runtime/core/headers.ts';
import { ACK_SENT } from '../../../runtime/core/transport.ts';
import type { MetricsRecorder } from '../../../runtime/core/metrics.ts';
import type { MessageMetadata } from '../../../runtime/core/types.ts';
import { MessageCircuitBreaker } from '../../../runtime/reliability/circuit-breaker.ts';
import { MemoryIdempotencyStore } from '../../../runtime/reliability/idempotency.ts';
import { waitFor } from '../../conformance/helpers.ts';
import { FakeTransport, json } from './fake-transport.ts';

const FAST = { retryDelay: 1, backoffFactor: 1, jitter: 0 } as const;
const clients: BrokerClient[] = [];

async function setup(capabilities: ConstructorParameters<typeof FakeTransport>[0] = {}, options: ConstructorParameters<typeof BrokerClient>[1] = {}) {
  const transport = new FakeTransport(capabilities);
  const client = new BrokerClient(transport, options);
  await client.connect();
  clients.push(client);
  return { transport, client };
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.allSettled(clients.splice(0).map((c) => c.disconnect({ timeoutMs: 100 })));
});

describe('BrokerClient publish', () => {
  it('stamps id, timestamp, headers, key, priority, ttl and encodes JSON', async () => {
    const { transport, client } = await setup();
    const before = Date.now();
    const receipt = await client.publish('orders', { id: 1 }, { correlationId: 'c', headers: { a: 'b' }, key: 'k', priority: 5, ttl: 2 });
    const sent = transport.sent[0]!;
    expect(receipt).toEqual({ messageId: sent.messageId, topic: 'orders', offset: '0' });
    expect(sent.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new TextDecoder().decode(sent.body)).toBe('{"id":1}');
    expect(sent).toMatchObject({ topic: 'orders', correlationId: 'c', headers: { a: 'b' }, key: 'k', priority: 5, contentType: 'application/json' });
    expect(sent.timestamp).toBeGreaterThanOrEqual(before);
    expect(sent.expiresAt).toBe(sent.timestamp + 2000);
  });

  it('rejects bad options with ConfigurationError naming the topic', async () => {
    const { client } = await setup();
    await expect(client.publish('t', 1, { priority: 10 })).rejects.toThrow(/priority on topic "t"/);
    await expect(client.publish('t', 1, { ttl: 0 })).rejects.toThrow(ConfigurationError);
    await expect(client.publish('t', 1, { headers: { 'X-ContractBus-Attempt': '1' } })).rejects.toThrow(/reserved/);
    await expect(client.publish('t', 1, { headers: { n: 1 as unknown as string } })).rejects.toThrow(/must be a string/);
    await expect(client.publish('', 1)).rejects.toThrow(ConfigurationError);
  });

  it('times out a round trip that never confirms, naming broker and topic', async () => {
    const { transport, client } = await setup({}, { publishTimeoutMs: 20 });
    transport.sendImpl = () => new Promise(() => {});
    const error = await client.publish('slow', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/"slow" on fake not confirmed within 20 ms/);
    expect(client.getMetrics().connectionErrors).toBe(1);
  });

  it('an abort signal settles a publish the transport never confirms', async () => {
    const { transport, client } = await setup();
    transport.sendImpl = () => new Promise(() => {});
    const controller = new AbortController();
    const publishing = client.publish('t', 1, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(publishing).rejects.toThrow('caller gave up');
    await expect(client.publish('t', 1, { signal: controller.signal })).rejects.toThrow('caller gave up');
  });

  it('fails fast with CircuitOpenError once the publish circuit opens', async () => {
    const { transport, client } = await setup({}, { publishCircuitBreaker: { failureThreshold: 2, recoveryTimeout: 60_000 } });
    let calls = 0;
    transport.sendImpl = async () => {
      calls++;
      throw new Error('broker down');
    };
    await expect(client.publish('t', 1)).rejects.toThrow('broker down');
    await expect(client.publish('t', 1)).rejects.toThrow('broker down');
    await expect(client.publish('t', 1)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(2);
    expect((await client.healthCheck()).issues).toContain('fake: publish circuit open');
  });

  it('refuses use before connect and after disconnect with ClosedError', async () => {
    const transport = new FakeTransport();
    const client = new BrokerClient(transport);
    await expect(client.publish('t', 1)).rejects.toThrow(/not connected yet.*connect\(\)/);
    await client.connect();
    await client.disconnect();
    await expect(client.publish('t', 1)).rejects.toBeInstanceOf(ClosedError);
    await expect(client.subscribe('t', () => {})).rejects.toThrow(/disconnected/);
  });

  it('publishRaw sends bytes untouched', async () => {
    const { transport, client } = await setup();
    await client.publishRaw('t', new Uint8Array([1, 2, 3]), { messageId: 'raw' });
    expect([...transport.sent[0]!.body]).toEqual([1, 2, 3]);
    expect(transport.sent[0]!.messageId).toBe('raw');
  });
});

describe('BrokerClient subscribe: capability gate', () => {
  it('refuses group, pattern and orderByKey on a binding without them', async () => {
    const { client } = await setup();
    await expect(client.subscribe('t', () => {}, { group: 'g' })).rejects.toBeInstanceOf(CapabilityError);
    await expect(client.subscribe('a.*', () => {})).rejects.toThrow(/pattern "a\.\*"/);
    await expect(client.subscribe('a.#', () => {}, { emulate: true })).rejects.toBeInstanceOf(CapabilityError);
    await expect(client.subscribe('t', () => {}, { orderByKey: true })).rejects.toThrow(/order per key/);
  });

  it('allows them with emulate: true and warns', async () => {
    const warn = vi.fn();
    const { client, transport } = await setup({}, { logger: { debug() {}, info() {}, warn, error() {} } });
    await client.subscribe('t', () => {}, { group: 'g', emulate: true, orderByKey: true });
    expect(transport.consumers[0]?.spec.group).toBe(undefined);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('emulated group: members on one client share one transport subscription and take turns', async () => {
    const { client, transport } = await setup();
    const seen: string[] = [];
    const one = await client.subscribe('t', () => void seen.push('one'), { group: 'g', emulate: true });
    await client.subscribe('t', () => void seen.push('two'), { group: 'g', emulate: true });
    await client.subscribe('t', () => void seen.push('private'));
    expect(transport.consumers).toHaveLength(2);
    for (let i = 0; i < 4; i++) await transport.deliver({ body: json(i), messageId: `m${i}` }, 1, 0).done;
    expect(seen).toEqual(['one', 'two', 'one', 'two']);
    await one.close();
    expect(transport.consumers[0]?.closed).toBe(false);
    await transport.deliver({ body: json(9) }, 1, 0).done;
    expect(seen.at(-1)).toBe('two');
  });

  it('defaults: startFrom latest for private subscriptions, earliest for named groups on durable bindings; prefetch from concurrency', async () => {
    const { client, transport } = await setup({ durable: true, consumerGroups: true });
    await client.subscribe('t', () => {});
    await client.subscribe('t', () => {}, { group: 'g', concurrency: 8 });
    expect(transport.consumers.map((c) => [c.spec.startFrom, c.spec.prefetch])).toEqual([
      ['latest', 10],
      ['earliest', 16],
    ]);
    await expect(client.subscribe('t', () => {}, { concurrency: 0 })).rejects.toThrow(ConfigurationError);
  });
});

describe('BrokerClient subscribe: pipeline', () => {
  it('retries in process when the transport has no delayed redelivery, holding the delivery', async () => {
    const { client, transport } = await setup();
    const kept: MessageMetadata[] = [];
    await client.subscribe('t', (_m, meta) => {
      kept.push(meta);
      if (meta.attempt < 3) throw new Error('flaky');
    }, { maxRetries: 3, ...FAST });
    const { delivery, done } = transport.deliver({ body: json({ a: 1 }) });
    await done;
    // Each attempt gets its own metadata: one kept from attempt 1 still says 1.
    expect(kept.map((m) => m.attempt)).toEqual([1, 2, 3]);
    expect(delivery.settlements).toEqual(['ack']);
    expect(client.getMetrics().byTopic.t).toMatchObject({ retries: 2, processingErrors: 2, messagesConsumed: 1 });
  });

  it('uses nack with delay on transports with delayed redelivery, and reads the attempt header', async () => {
    const { client, transport } = await setup({ delayedRedelivery: true });
    const seen: number[] = [];
    await client.subscribe('t', (_m, meta) => {
      seen.push(meta.attempt);
      throw new Error('down');
    }, { maxRetries: 5, retryDelay: 40, backoffFactor: 2, jitter: 0 });
    const first = transport.deliver({ body: json(1) });
    await first.done;
    expect(first.delivery.settlements).toEqual([{ requeue: true, delayMs: 40 }]);
    const third = transport.deliver({ body: json(1), headers: { [HEADER.attempt]: '3' } }, 1);
    await third.done;
    expect(seen).toEqual([1, 3]);
    expect(third.delivery.settlements).toEqual([{ requeue: true, delayMs: 160 }]);
  });

  it('dead-letters after the last attempt and acks only after the DLQ publish is confirmed', async () => {
    const { client, transport } = await setup();
    let confirm!: () => void;
    transport.sendImpl = () => new Promise((resolve) => (confirm = () => resolve({})));
    await client.subscribe('orders', () => {
      throw new Error('boom');
    }, { maxRetries: 1, ...FAST });
    const { delivery, done } = transport.deliver({ body: json({ id: 1 }), messageId: 'm-9', headers: { user: 'u' } });
    await waitFor(() => confirm !== undefined);
    expect(delivery.settlements).toEqual([]);
    confirm();
    await done;
    expect(delivery.settlements).toEqual(['ack']);
    const dead = transport.sent[0]!;
    expect(dead.topic).toBe('orders.dlq');
    expect(dead.messageId).toBe('m-9');
    expect(dead.headers).toMatchObject({ user: 'u', [HEADER.dlqReason]: 'handler failed after 2 attempts', [HEADER.dlqAttempts]: '2', [HEADER.dlqOriginalTopic]: 'orders', [HEADER.dlqErrorMessage]: 'boom' });
  });

  it('requeues (never acks) when the dead-letter publish fails', async () => {
    const { client, transport } = await setup();
    transport.sendImpl = async () => {
      throw new Error('dlq down');
    };
    await client.subscribe('t', () => {
      throw new NonRetryableError('bad');
    });
    const { delivery, done } = transport.deliver({ body: json(1) });
    await done;
    expect(delivery.settlements).toEqual([{ requeue: true, delayMs: 1000 }]);
    expect(client.getMetrics().deadLettered).toBe(0);
  });

  it('dead-letters poison bytes with reason "malformed message" without calling the handler', async () => {
    const { client, transport } = await setup();
    const handler = vi.fn();
    await client.subscribe('t', handler);
    const { delivery, done } = transport.deliver({ body: new TextEncoder().encode('<xml/>') });
    await done;
    expect(handler).not.toHaveBeenCalled();
    expect(delivery.settlements).toEqual(['ack']);
    expect(transport.sent[0]?.headers[HEADER.dlqReason]).toBe('malformed message');
    expect(new TextDecoder().decode(transport.sent[0]?.body)).toBe('<xml/>');
  });

  it('turns a validate() throw of any kind into a ValidationError dead letter', async () => {
    const { client, transport } = await setup();
    await client.subscribe('t', () => {}, {
      validate: () => {
        throw new TypeError('nope');
      },
    });
    await transport.deliver({ body: json(1) }).done;
    expect(transport.sent[0]?.headers).toMatchObject({ [HEADER.dlqReason]: 'validation failed', [HEADER.dlqErrorName]: 'ValidationError' });
    expect(transport.sent[0]?.headers[HEADER.dlqErrorMessage]).toContain('nope');
  });

  it('handlers that return a value, throw, or return a promise all end the same way (one dead letter per poison message)', async () => {
    const { client, transport } = await setup();
    const seen: string[] = [];
    await client.subscribe('t', (m: { kind: string }, meta) => {
      seen.push(`${m.kind}${meta.attempt}`);
      if (m.kind === 'throws' && meta.attempt === 1) throw new Error('once');
      if (m.kind === 'rejects' && meta.attempt === 1) return Promise.reject(new Error('once'));
      return m.kind === 'async' ? Promise.resolve() : undefined;
    }, { validate: (p) => { if ((p as { kind?: unknown }).kind === undefined) throw new Error('no kind'); return p as { kind: string }; }, maxRetries: 2, ...FAST });
    const runs = ['plain', 'throws', 'rejects', 'async'].map((kind) => transport.deliver({ body: json({ kind }), messageId: kind }));
    const poison = transport.deliver({ body: json({}), messageId: 'poison' });
    await Promise.all([...runs, poison].map((r) => r.done));
    expect(seen.sort()).toEqual(['async1', 'plain1', 'rejects1', 'rejects2', 'throws1', 'throws2']);
    for (const r of [...runs, poison]) expect(r.delivery.settlements).toEqual(['ack']);
    expect(transport.sent.map((m) => m.headers[HEADER.dlqReason])).toEqual(['validation failed']);
    expect(client.getMetrics().byTopic.t).toMatchObject({ messagesConsumed: 4, retries: 2, processingErrors: 3 });
  });

  it('enableDlq false acks and counts the drop', async () => {
    const { client, transport } = await setup();
    await client.subscribe('t', () => Promise.reject(new NonRetryableError('x')), { enableDlq: false });
    const { delivery, done } = transport.deliver({ body: json(1) });
    await done;
    expect(delivery.settlements).toEqual(['ack']);
    expect(transport.sent).toEqual([]);
    expect(client.getMetrics().dropped).toBe(1);
  });

  it('drops expired messages before the handler and counts them', async () => {
    const { client, transport } = await setup();
    const handler = vi.fn();
    await client.subscribe('t', handler);
    const { delivery, done } = transport.deliver({ body: json(1), expiresAt: Date.now() - 1 });
    await done;
    expect(handler).not.toHaveBeenCalled();
    expect(delivery.settlements).toEqual(['ack']);
    expect(client.getMetrics().expiredDropped).toBe(1);
  });

  it('handlerTimeoutMs turns a stuck handler into a retryable TimeoutError', async () => {
    const { client, transport } = await setup();
    await client.subscribe('t', () => new Promise(() => {}), { handlerTimeoutMs: 10, maxRetries: 1, ...FAST });
    await transport.deliver({ body: json(1) }).done;
    expect(transport.sent[0]?.headers).toMatchObject({ [HEADER.dlqErrorName]: 'TimeoutError', [HEADER.dlqAttempts]: '2' });
  });

  it('manual nack({ requeue: false }) dead-letters with the given reason; later ack is a no-op', async () => {
    const { client, transport } = await setup();
    await client.subscribe('t', async (_m, meta) => {
      await meta.nack({ requeue: false, reason: 'customer unknown' });
      await meta.ack();
    }, { autoAck: false });
    const { delivery, done } = transport.deliver({ body: json(1) });
    await done;
    expect(delivery.settlements).toEqual(['ack']);
    expect(transport.sent[0]?.headers[HEADER.dlqReason]).toBe('customer unknown');
  });

  it('idempotency: a duplicate id is acked without running the handler; a failure releases the claim', async () => {
    const store = new MemoryIdempotencyStore();
    const { client, transport } = await setup({}, { idempotencyStore: store });
    let fail = true;
    const handler = vi.fn(() => {
      if (fail) throw new NonRetryableError('first try fails');
    });
    await client.subscribe('t', handler);
    await transport.deliver({ body: json(1), messageId: 'same' }).done;
    fail = false;
    await transport.deliver({ body: json(1), messageId: 'same' }).done;
    const third = transport.deliver({ body: json(1), messageId: 'same' });
    await third.done;
    expect(handler).toHaveBeenCalledTimes(2);
    expect(third.delivery.settlements).toEqual(['ack']);
    expect(client.getMetrics().duplicatesDropped).toBe(1);
  });

  it('idempotency: a redelivery meeting a crashed consumer\'s stale claim waits for it to expire instead of being dropped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new MemoryIdempotencyStore();
    const { client, transport } = await setup({}, { idempotencyStore: store });
    const handler = vi.fn();
    await client.subscribe('t', handler);
    // The claim a consumer took before it crashed (default in-progress TTL 60 s).
    await store.tryClaim('t\u0000\u0000lost', 60_000);
    const redelivery = transport.deliver({ body: json(1), messageId: 'lost' }, 2);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(handler).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(31_000);
    await redelivery.done;
    expect(handler).toHaveBeenCalledTimes(1);
    expect(redelivery.delivery.settlements).toEqual(['ack']);
    // A first-delivery duplicate of a handled id is dropped at once.
    const copy = transport.deliver({ body: json(1), messageId: 'lost' }, 1);
    await copy.done;
    expect(handler).toHaveBeenCalledTimes(1);
    expect(client.getMetrics().duplicatesDropped).toBe(1);
  });

  it('keeps per-key order and the concurrency bound', async () => {
    const { client, transport } = await setup();
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    await client.subscribe('t', async (m: { k: string; i: number }) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, m.i % 2 === 0 ? 3 : 0));
      order.push(`${m.k}${m.i}`);
      running--;
    }, { concurrency: 2 });
    const done = [];
    for (let i = 0; i < 4; i++) for (const k of ['a', 'b', 'c']) done.push(transport.deliver({ body: json({ k, i }), key: k, messageId: `${k}${i}` }).done);
    await Promise.all(done);
    expect(peak).toBe(2);
    for (const k of ['a', 'b', 'c']) expect(order.filter((o) => o.startsWith(k))).toEqual([0, 1, 2, 3].map((i) => `${k}${i}`));
  });

  it('frees a handler slot once the ack is sent, not confirmed; close() waits for the confirmation', async () => {
    const { client, transport } = await setup();
    let confirm!: () => void;
    transport.ackGate = new Promise<void>((resolve) => (confirm = resolve));
    const handled: number[] = [];
    const sub = await client.subscribe('t', (m: number) => void handled.push(m), { concurrency: 1 });
    const first = transport.deliver({ body: json(1), messageId: 'a' });
    const second = transport.deliver({ body: json(2), messageId: 'b' });
    // The second handler ran while the broker had not confirmed the first ack yet.
    await waitFor(() => handled.length === 2);
    expect(first.delivery.settlements).toEqual(['ack']);
    let closed = false;
    const closing = sub.close().then(() => (closed = true));
    await waitFor(() => transport.consumers[0]!.paused);
    expect(closed).toBe(false);
    expect(transport.consumers[0]!.closed).toBe(false);
    confirm();
    await closing;
    expect(transport.consumers[0]!.closed).toBe(true);
    expect(second.delivery.settlements).toEqual(['ack']);
    await Promise.all([first.done, second.done]);
  });

  it('lets up to 1024 acks go unconfirmed at concurrency 1, then holds the slot until the broker confirms', async () => {
    const { client, transport } = await setup();
    let confirm!: () => void;
    transport.ackGate = new Promise<void>((resolve) => (confirm = resolve));
    let handled = 0;
    const sub = await client.subscribe('t', () => void handled++, { concurrency: 1 });
    const deliveries = Array.from({ length: 1_026 }, (_, i) => transport.deliver({ body: json(i), messageId: `m${i}` }));
    // 1024 acks unconfirmed, the 1025th handler holds the only slot: the 1026th waits.
    await waitFor(() => handled === 1_025);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled).toBe(1_025);
    confirm();
    await Promise.all(deliveries.map((d) => d.done));
    expect(handled).toBe(1_026);
    await sub.close();
  });

  it('an ack the transport reports as sent (ACK_SENT) frees the handler slot before onDelivery returns', async () => {
    const { client, transport } = await setup();
    transport.ackGate = ACK_SENT;
    const handled: number[] = [];
    const sub = await client.subscribe('t', (m: number) => void handled.push(m), { concurrency: 1 });
    const deliveries = [1, 2, 3].map((n) => transport.deliver({ body: json(n), messageId: `m${n}` }));
    // Each delivery found the slot free: none waited for an earlier one's ack to be confirmed.
    expect(handled).toEqual([1, 2, 3]);
    expect((await client.healthCheck()).details.subscriptions).toEqual([expect.objectContaining({ inFlight: 0 })]);
    await Promise.all(deliveries.map((d) => d.done));
    expect(deliveries.map((d) => d.delivery.settlements)).toEqual([['ack'], ['ack'], ['ack']]);
    await sub.close();
  });

  it('a circuit breaker pauses the transport subscription while open and resumes after', async () => {
    const { client, transport } = await setup();
    const breaker = new MessageCircuitBreaker({ failureThreshold: 1, recoveryTimeout: 30 });
    let healthy = false;
    const sub = await client.subscribe('t', () => {
      if (!healthy) throw new Error('down');
    }, { circuitBreaker: breaker, maxRetries: 10, ...FAST });
    const { delivery, done } = transport.deliver({ body: json(1) });
    await waitFor(() => breaker.state === 'open' || transport.consumers[0]!.paused);
    expect(transport.consumers[0]?.paused).toBe(true);
    expect((await client.healthCheck()).issues.join()).toMatch(/circuit open/);
    healthy = true;
    await done;
    expect(delivery.settlements).toEqual(['ack']);
    expect(transport.consumers[0]?.paused).toBe(false);
    expect(breaker.state).toBe('closed');
    await sub.close();
  });

  it('close() waits for in-flight handlers, then detaches; a timed-out drain acks nothing', async () => {
    const { client, transport } = await setup();
    let release!: () => void;
    const sub = await client.subscribe('t', () => new Promise<void>((r) => (release = r)));
    const { delivery, done } = transport.deliver({ body: json(1) });
    await waitFor(() => release !== undefined);
    await sub.close({ timeoutMs: 20 });
    expect(transport.consumers[0]?.closed).toBe(true);
    expect(delivery.settlements).toEqual([]);
    // Deliveries arriving while closed are handed back, not handled.
    const late = transport.deliver({ body: json(2), messageId: 'late' });
    await late.done;
    expect(late.delivery.settlements).toEqual([{ requeue: true }]);
    release();
    await done;
  });

  it('close() requeues a message waiting for an in-process retry instead of waiting out the backoff', async () => {
    const { client, transport } = await setup();
    const sub = await client.subscribe('t', () => {
      throw new Error('x');
    }, { maxRetries: 3, retryDelay: 60_000 });
    const { delivery, done } = transport.deliver({ body: json(1) });
    await waitFor(() => client.getMetrics().retries === 1);
    const started = Date.now();
    await sub.close();
    await done;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delivery.settlements).toEqual([{ requeue: true }]);
  });

  it('reports to extra metrics recorders and the logger seam', async () => {
    const calls: string[] = [];
    const recorder = new Proxy({} as MetricsRecorder, { get: (_t, name) => () => calls.push(String(name)) });
    const { client, transport } = await setup({}, { metricsRecorder: recorder });
    await client.subscribe('t', () => {});
    await client.publish('t', 1);
    await transport.deliver({ body: json(1) }).done;
    expect(calls).toEqual(expect.arrayContaining(['published', 'inFlight', 'consumed']));
  });

  it('metadata exposes the delivery and is stable', async () => {
    const { client, transport } = await setup();
    let meta: MessageMetadata | undefined;
    await client.subscribe('t', (_m, m) => {
      meta = m;
    });
    await transport.deliver({ body: json(1), messageId: 'x', correlationId: 'c', key: 'k', timestamp: 1000, headers: { h: 'v' } }, 2).done;
    expect(meta).toMatchObject({ messageId: 'x', correlationId: 'c', key: 'k', topic: 't', attempt: 2, redelivered: true, headers: { h: 'v' } });
    expect(meta?.timestamp.getTime()).toBe(1000);
  });
});

describe('BrokerClient dead letters by hand and health', () => {
  it('sendToDlq publishes the payload with reason headers to <topic>.dlq', async () => {
    const { client, transport } = await setup();
    await client.sendToDlq({ topic: 'orders', payload: { id: 1 }, messageId: 'm', headers: { a: 'b' }, error: new Error('why') }, 'manual');
    expect(transport.sent[0]).toMatchObject({ topic: 'orders.dlq', messageId: 'm', headers: { a: 'b', [HEADER.dlqReason]: 'manual', [HEADER.dlqErrorMessage]: 'why', [HEADER.dlqOriginalTopic]: 'orders' } });
    expect(client.getMetrics().byTopic.orders?.deadLettered).toBe(1);
  });

  it('sendToDlq sends a Uint8Array payload as it is', async () => {
    const { client, transport } = await setup();
    await client.sendToDlq({ topic: 'bin', payload: new Uint8Array([0xff, 0x00]) }, 'binary');
    expect([...transport.sent[0]!.body]).toEqual([0xff, 0x00]);
  });

  it('healthCheck merges transport issues, buffer fill and subscription state', async () => {
    const { client, transport } = await setup();
    transport.healthImpl = async () => ({ isHealthy: false, issues: ['fake: reconnecting'], details: { bufferFill: 0.95 } });
    await client.subscribe('t', () => {});
    const health = await client.healthCheck();
    expect(health.isHealthy).toBe(false);
    expect(health.issues).toEqual(['fake: reconnecting', 'fake: publish buffer 95 % full']);
    expect(health.details.subscriptions).toEqual([{ topic: 't', group: undefined, alive: true, inFlight: 0, circuit: undefined }]);
  });

  it('handlers still draining during disconnect() may publish; afterwards publish is refused', async () => {
    const { client, transport } = await setup();
    let release!: () => void;
    let published: unknown;
    await client.subscribe('in', async () => {
      await new Promise<void>((r) => (release = r));
      published = await client.publish('out', 'result').catch((e: unknown) => e);
    });
    const { done } = transport.deliver({ body: json(1) });
    await waitFor(() => release !== undefined);
    const disconnecting = client.disconnect({ timeoutMs: 1000 });
    release();
    await done;
    await disconnecting;
    expect(published).toMatchObject({ topic: 'out' });
    await expect(client.publish('out', 'late')).rejects.toBeInstanceOf(ClosedError);
  });

  it('an aborted signal closes the subscription', async () => {
    const { client, transport } = await setup();
    const controller = new AbortController();
    await client.subscribe('t', () => {}, { signal: controller.signal });
    controller.abort();
    await waitFor(() => transport.consumers[0]?.closed === true);
    expect((await client.healthCheck()).details.subscriptions).toEqual([]);
  });

  it('Symbol.asyncDispose disconnects', async () => {
    const transport = new FakeTransport();
    {
      await using client = new BrokerClient(transport);
      await client.connect();
      expect(transport.connected).toBe(true);
    }
    expect(transport.connected).toBe(false);
  });
});
