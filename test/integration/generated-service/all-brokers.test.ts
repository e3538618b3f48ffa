/**
 * The promise "swap the broker with a one-line change": examples/generated-service prints the same
 * lines on every broker URL, including Kafka and Redis Streams, which have no pattern subscribe (the
 * generated client collapses `orders.{orderId}.status` onto `orders.status` there). Each URL runs
 * twice: the contract fixes the topics, so the second run meets the first run's leftovers.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../../runtime/index.ts';
import type { MessageBroker, Subscription } from '../../../runtime/index.ts';
import { createShopClient } from '../../../examples/generated-service/src/generated/shop/index.ts';
import { brokerUrls, REPO_ROOT } from '../../support/brokers.ts';

const run = promisify(execFile);
const urls = brokerUrls();
const streamsUrl = urls.redis.replace(/^(rediss?):/, '$1+streams:');
const kafkaUrl = `kafka://${urls.kafkaBrokers.join(',')}`;
const BROKER_URLS = ['memory://', urls.redis, streamsUrl, urls.amqp, kafkaUrl];

const orderId = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';
/** Sorted: the subscriptions are independent, so the order of their lines is the broker's business. */
const EXPECTED = [
  'dead-lettered from shop.payments: validation failed (Incoming payload on "shop.payments" does not match the contract: paymentId: Invalid GUID; amount: Invalid input: expected object, received undefined; capturedAt: Invalid input: expected string, received undefined. The producer sent a message that does not match the contract; it goes to the dead-letter topic)',
  `order ${orderId} is now paid (correlation req-789)`,
  'payment 0b8e5d3c-2f1a-4e6b-9c7d-8a9b0c1d2e3f captured: 1999 EUR',
  'payment 0b8e5d3c-2f1a-4e6b-9c7d-8a9b0c1d2e3f failed: card declined (retryable: false)',
  'refused before sending: status: Invalid option: expected one of "created"|"paid"|"shipped"|"delivered"|"cancelled"; changedAt: Invalid ISO datetime',
];

async function runService(url: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--conditions=development', 'examples/generated-service/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, MESSAGE_BROKER_URL: url },
    // The service exits by itself (its own 10 s guard); this only stops a hung child.
    timeout: 45_000,
  });
  return stdout.split('\n').filter((line) => line.length > 0).sort();
}

describe.each(BROKER_URLS)('examples/generated-service on %s', (url) => {
  it('prints the same lines as on every other broker, twice in a row, and exits by itself', { timeout: 120_000 }, async () => {
    expect(await runService(url)).toEqual(EXPECTED);
    expect(await runService(url)).toEqual(EXPECTED);
  });
});

describe.each([
  ['redis+streams', streamsUrl],
  ['kafka', kafkaUrl],
])('collapsed routing on %s (no pattern subscribe)', (_name, url) => {
  let broker: MessageBroker | undefined;
  const subscriptions: Subscription[] = [];
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
    await broker?.disconnect();
    broker = undefined;
  });

  it('one topic for every order, parameters from headers, other orders skipped when one is asked for', { timeout: 60_000 }, async () => {
    broker = await connect(url);
    expect(broker.capabilities.patternSubscribe).toBe(false);
    const shop = createShopClient(broker);
    // Fresh ids: the topic is shared with every earlier run, these ids are not.
    const wanted = randomUUID();
    const other = randomUUID();
    const mine: Array<{ orderId: string; topic: string; key: string | undefined }> = [];
    const all: string[] = [];
    let resolveWanted!: () => void;
    const gotWanted = new Promise<void>((resolve) => (resolveWanted = resolve));
    let resolveBoth!: () => void;
    const gotBoth = new Promise<void>((resolve) => (resolveBoth = resolve));
    subscriptions.push(
      await shop.onOrderStatus(
        (_event, meta) => {
          mine.push({ orderId: meta.params.orderId, topic: meta.topic, key: meta.key });
          resolveWanted();
        },
        { params: { orderId: wanted }, startFrom: 'earliest' },
      ),
      await shop.onOrderStatus(
        (_event, meta) => {
          if (meta.params.orderId === wanted || meta.params.orderId === other) all.push(meta.params.orderId);
          if (all.includes(wanted) && all.includes(other)) resolveBoth();
        },
        { startFrom: 'earliest' },
      ),
    );
    const changedAt = new Date().toISOString();
    const receipt = await shop.publishOrderStatus({ orderId: other }, { orderId: other, status: 'created', changedAt }, { headers: { correlationId: 'c-other' } });
    expect(receipt.topic).toBe('orders.status');
    await shop.publishOrderStatus({ orderId: wanted }, { orderId: wanted, status: 'paid', changedAt }, { headers: { correlationId: 'c-wanted' } });
    await Promise.all([gotWanted, gotBoth]);
    // The other order's message came first on the same topic: it was skipped, not held back.
    expect(mine).toEqual([{ orderId: wanted, topic: 'orders.status', key: wanted }]);
    expect(all.sort()).toEqual([wanted, other].sort());
  });
});
