/**
 * The contract mirror (generate --mirror) plays the other side of the example service on every
 * broker, including those without pattern subscribe (collapsed routing on Kafka and Redis Streams).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type MessageBroker } from '../../../runtime/index.ts';
import { createShopClient } from '../../../examples/generated-service/src/generated/shop/index.ts';
import { createMirror } from '../../../examples/generated-service/src/generated/shop/mirror.ts';
import { brokerUrls } from '../../support/brokers.ts';

const urls = brokerUrls();
const BROKER_URLS = ['memory://', urls.redis, urls.redis.replace(/^(rediss?):/, '$1+streams:'), urls.amqp, `kafka://${urls.kafkaBrokers.join(',')}`];
const open: MessageBroker[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.disconnect({ timeoutMs: 2_000 })));
});

describe.each(BROKER_URLS)('mirror of the shop contract on %s', (url) => {
  it('receives what the service publishes, with its parameters, and sends what the service receives', { timeout: 60_000 }, async () => {
    const broker = await connect(url);
    open.push(broker);
    const shop = createShopClient(broker);
    const mirror = await createMirror(broker);
    const orderId = crypto.randomUUID();
    await shop.publishOrderStatus({ orderId }, { orderId, status: 'shipped', changedAt: new Date().toISOString() }, { headers: { correlationId: `c-${orderId}` } });
    const received = await mirror.publishOrderStatus.waitFor((m) => m.params.orderId === orderId, { timeout: 30_000 });
    expect(received.payload.status).toBe('shipped');

    const paymentId = crypto.randomUUID();
    let resolve!: (reason: string) => void;
    const handled = new Promise<string>((r) => (resolve = r));
    const subscription = await shop.onPayment(
      (event) => {
        if (event.paymentId === paymentId && event.kind === 'failed') resolve(event.reason);
      },
      { group: `mirror-test-${paymentId}`, startFrom: 'latest', emulate: true },
    );
    await mirror.onPayment.send({ kind: 'failed', paymentId, orderId, reason: 'card expired', retryable: false, failedAt: new Date().toISOString() }, { headers: { correlationId: `p-${paymentId}` } });
    expect(await handled).toBe('card expired');
    await subscription.close();
    await mirror.$close();
  });
});
