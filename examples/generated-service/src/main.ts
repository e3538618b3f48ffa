/**
 * A service built on a generated client: `asyncapi/shop.yaml` → `src/generated/shop/` with
 *   npm run generate -- asyncapi/shop.yaml -o examples/generated-service/src/generated --import-extension .ts --mirror
 * (`.ts` imports so Node runs the generated files directly). Run:
 *   node --conditions=development examples/generated-service/src/main.ts
 * memory:// by default; MESSAGE_BROKER_URL=redis://… / redis+streams://… / amqp://… / kafka://… switches
 * the broker, and nothing else changes: on brokers without pattern subscribe (Kafka, Redis Streams)
 * the generated client routes `orders.{orderId}.status` onto the one topic `orders.status`.
 *
 * The contract fixes the topics, so on durable brokers the topics keep messages of earlier runs.
 * Subscriptions read from the earliest message (nothing published after `subscribe` resolves can be
 * missed, whatever the broker's attach timing) and every message of this run carries a `run-id`
 * header: handlers ack and ignore what earlier runs left behind.
 */
import { randomUUID } from 'node:crypto';
import { connect, ValidationError } from 'contractbus';
import { createShopClient, examples } from './generated/shop/index.ts';

const broker = await connect(process.env['MESSAGE_BROKER_URL'] ?? 'memory://');
const shop = createShopClient(broker);

let resolveDone: () => void = () => {};
const done = new Promise<void>((resolve) => (resolveDone = resolve));
const seen: string[] = [];
const runId = randomUUID();
const fromThisRun = (headers: Readonly<Record<string, string>>): boolean => headers['run-id'] === runId;
const expect = 4;
const note = (line: string): void => {
  seen.push(line);
  console.log(line);
  if (seen.length === expect) resolveDone();
};

// Every order's status changes: the pattern `orders.*.status`; the order id comes back as a parameter.
const statusSubscription = await shop.onOrderStatus(
  (event, meta) => {
    if (fromThisRun(meta.headers)) note(`order ${meta.params.orderId} is now ${event.status} (correlation ${meta.contractHeaders.correlationId})`);
  },
  { startFrom: 'earliest' },
);

// Payment events: the handler's type narrows on the discriminator. The contract names a consumer
// group (shop-payments), used where the broker has groups (Redis Pub/Sub has none: plain fan-out).
const paymentSubscription = await shop.onPayment(
  (event, meta) => {
    if (!fromThisRun(meta.headers)) return;
    if (event.kind === 'failed') note(`payment ${event.paymentId} failed: ${event.reason} (retryable: ${event.retryable})`);
    else note(`payment ${event.paymentId} ${event.kind}: ${event.amount.amountMinor} ${event.amount.currency}`);
  },
  { maxRetries: 3, concurrency: 10, deadLetterTopic: 'shop.payments.dlq', startFrom: 'earliest' },
);

// Invalid incoming messages never reach a handler: they land on the dead-letter topic with the reason.
const deadLetters = await broker.subscribe(
  'shop.payments.dlq',
  (_payload, meta) => {
    if (fromThisRun(meta.headers)) note(`dead-lettered from ${meta.headers['x-contractbus-dlq-original-topic']}: ${meta.headers['x-contractbus-dlq-reason']} (${meta.headers['x-contractbus-dlq-error-message']})`);
  },
  { startFrom: 'earliest' },
);

const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';
await shop.publishOrderStatus({ orderId }, { orderId, status: 'paid', changedAt: new Date().toISOString() }, { headers: { correlationId: 'req-789' }, extraHeaders: { 'run-id': runId } });
// The payment service publishes with its own client; here by hand, with the headers the contract requires.
await broker.publish('shop.payments', examples.PaymentEvent[0].payload, { headers: { correlationId: 'pay-1', 'run-id': runId } });
await broker.publish(
  'shop.payments',
  { kind: 'captured', paymentId: '0b8e5d3c-2f1a-4e6b-9c7d-8a9b0c1d2e3f', orderId, amount: { currency: 'EUR', amountMinor: 1999 }, capturedAt: new Date().toISOString() },
  { headers: { correlationId: 'pay-2', 'run-id': runId } },
);

// Another producer, not on the contract, sends a payment without an amount.
await broker.publish('shop.payments', { kind: 'captured', paymentId: 'p-3', orderId }, { headers: { correlationId: 'pay-3', 'run-id': runId } });

// An invalid outgoing message never leaves the process.
try {
  // @ts-expect-error 'lost' is not a status the contract knows
  await shop.publishOrderStatus({ orderId }, { orderId, status: 'lost', changedAt: 'now' }, { headers: { correlationId: 'req-790' } });
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  console.log(`refused before sending: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}

await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out waiting for 4 messages')), 10_000).unref())]);
await statusSubscription.close();
await paymentSubscription.close();
await deadLetters.close();
await broker.disconnect();
