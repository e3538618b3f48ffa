/**
 * Contract tests of the example service, the way a service repo writes them: the generated client
 * (src/generated/shop) over `contractbus/testing`'s test broker, the contract's own examples as
 * fixtures. Run: npx vitest run examples/generated-service/test
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ValidationError } from 'contractbus';
import { createTestBroker, type TestBroker } from 'contractbus/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createShopClient, examples, type OrderStatus, type PaymentEvent } from '../src/generated/shop/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const orderId = examples.OrderStatusChanged[0].payload.orderId;

let broker: TestBroker;
afterEach(async () => {
  await broker.disconnect();
});

describe('shop contract: what the service sends', () => {
  it('every OrderStatusChanged example goes out on its concrete topic with the contract headers', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    for (const example of examples.OrderStatusChanged) {
      await shop.publishOrderStatus({ orderId: example.payload.orderId }, example.payload, { headers: example.headers });
      const sent = broker.expectPublished<OrderStatus>(`orders.${example.payload.orderId}.status`, { status: example.payload.status }, { headers: { correlationId: example.headers.correlationId } });
      // The correlation id header also becomes the message's correlation id.
      expect(sent.correlationId).toBe(example.headers.correlationId);
      expect(sent.contentType).toBe('application/json');
    }
  });

  it('an off-contract status never leaves the process', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    // @ts-expect-error 'lost' is not a status of the contract
    const refused = shop.publishOrderStatus({ orderId }, { orderId, status: 'lost', changedAt: 'now' }, { headers: { correlationId: 'c' } });
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    broker.expectNotPublished('orders.*.status');
  });
});

describe('shop contract: what the service receives', () => {
  it('every PaymentEvent example reaches the handler typed, with the contract headers', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    const seen: Array<{ event: PaymentEvent; correlationId: string }> = [];
    await shop.onPayment((event, meta) => void seen.push({ event, correlationId: meta.contractHeaders.correlationId }));
    for (const example of examples.PaymentEvent) await broker.publish('shop.payments', example.payload, { headers: { correlationId: `pay-${example.name}` } });
    await broker.idle();
    expect(seen.map((s) => s.event.kind)).toEqual(examples.PaymentEvent.map((e) => e.payload.kind));
    // Defaults of the contract are applied on the way in (PaymentFailed.retryable: false).
    expect(seen[0]?.event).toMatchObject({ kind: 'failed', retryable: false });
    expect(broker.deadLettered('shop.payments')).toEqual([]);
  });

  it('an off-contract payment is dead-lettered as invalid; the handler never sees it', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    const handled: unknown[] = [];
    await shop.onPayment((event) => void handled.push(event));
    await broker.publish('shop.payments', { ...examples.PaymentEvent[0].payload, kind: 'refunded' }, { headers: { correlationId: 'x' } });
    const dead = await broker.waitForDeadLetter('shop.payments');
    expect(dead.reason).toBe('validation failed');
    expect(dead.topic).toBe('shop.payments.dlq');
    await broker.idle();
    expect(handled).toEqual([]);
  });

  it('a payment without the required correlationId header is dead-lettered too', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    await shop.onPayment(() => {});
    await broker.publish('shop.payments', examples.PaymentEvent[0].payload);
    const dead = await broker.waitForDeadLetter('shop.payments');
    expect(dead.errorMessage).toMatch(/correlationId/);
  });

  it('the orderId parameter comes back from the concrete topic of a pattern subscription', async () => {
    broker = await createTestBroker();
    const shop = createShopClient(broker);
    const params: string[] = [];
    await shop.onOrderStatus((_event, meta) => void params.push(meta.params.orderId));
    const example = examples.OrderStatusChanged[0];
    await shop.publishOrderStatus({ orderId: example.payload.orderId }, example.payload, { headers: example.headers });
    await broker.idle();
    expect(params).toEqual([example.payload.orderId]);
  });
});

// The mirror client (templates/mirror.ts.hbs) once `contractbus generate` emits it: it drives the
// service through the contract. Skipped until src/generated/shop/mirror.ts exists.
const mirrorFile = path.join(here, '../src/generated/shop/mirror.ts');
describe.skipIf(!existsSync(mirrorFile))('shop contract through the mirror client', () => {
  it('a captured payment sent by the mirror reaches onPayment; the status the service publishes reaches the mirror', async () => {
    broker = await createTestBroker();
    const { createMirror } = (await import(mirrorFile)) as { createMirror: (b: TestBroker) => Promise<MirrorLike> };
    const mirror = await createMirror(broker);
    const shop = createShopClient(broker);
    await shop.onPayment(async (event, meta) => {
      if (event.kind === 'captured') await shop.publishOrderStatus({ orderId: event.orderId }, { orderId: event.orderId, status: 'paid', changedAt: event.capturedAt }, { headers: { correlationId: meta.contractHeaders.correlationId } });
    });
    await mirror.onPayment.send({ kind: 'captured', paymentId: examples.PaymentEvent[0].payload.paymentId, orderId, amount: { currency: 'EUR', amountMinor: 1999 }, capturedAt: '2026-03-01T12:00:00Z' }, { headers: { correlationId: 'pay-9' } });
    const sent = await mirror.publishOrderStatus.waitFor({ status: 'paid' });
    expect(sent.params).toEqual({ orderId });
    mirror.$expectNoViolations();
    await mirror.$close();
  });
});

interface MirrorLike {
  onPayment: { send(payload: object, options: object): Promise<unknown> };
  publishOrderStatus: { waitFor(matcher: object): Promise<{ params: Record<string, string> }> };
  $expectNoViolations(): void;
  $close(): Promise<void>;
}

describe('the example service end to end', () => {
  it('src/main.ts runs on memory:// and handles the three messages it expects', async () => {
    const node = path.join(repoRoot, 'node_modules/.bin/node');
    const { stdout } = await promisify(execFile)(node, ['--conditions=development', path.join(here, '../src/main.ts')], { cwd: repoRoot, timeout: 20_000, env: { ...process.env, MESSAGE_BROKER_URL: 'memory://' } });
    expect(stdout).toContain(`order ${orderId} is now paid (correlation req-789)`);
    expect(stdout).toMatch(/payment .* failed: card declined \(retryable: false\)/);
    expect(stdout).toMatch(/payment .* captured: 1999 EUR/);
    expect(stdout).toMatch(/refused before sending: status: /);
  });
});
