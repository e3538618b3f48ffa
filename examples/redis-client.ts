/**
 * Every Redis feature by hand, against the local Redis:
 *   npm run brokers -- start redis
 *   node --conditions=development examples/redis-client.ts
 * Topics and groups get a unique suffix; the example prints what happens, deletes its streams and exits.
 *
 * Two clients, one per delivery guarantee:
 *   RedisPubSubClient   redis://, rediss://                  at-most-once: only subscribers connected now get a message
 *   RedisStreamsClient  redis+streams://, rediss+streams://  at-least-once: durable, consumer groups, redelivery
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'contractbus';
import { RedisIdempotencyStore, RedisPubSubClient, RedisStreamsClient } from 'contractbus/redis';
import { z } from 'zod';

const run = randomUUID().slice(0, 6);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const streamsUrl = url.replace(/^redis(s?):/, 'redis$1+streams:');
const createdStreams: string[] = [];
const stream = (name: string): string => {
  const full = `${name}.${run}`;
  createdStreams.push(full, `${full}.dlq`);
  return full;
};

function countdown(n: number): { tick: () => void; done: Promise<void> } {
  let left = n;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { tick: () => void (--left === 0 && resolve()), done };
}

const Order = z.object({ orderId: z.string(), total: z.number().nonnegative() });
type Order = z.infer<typeof Order>;

// ─── Redis Pub/Sub ───────────────────────────────────────────────────────────────────────────────
// Seed option names; safe defaults: every round trip bounded (commandTimeoutMs 5 s), no unbounded
// offline queue (publishes wait in a bounded buffer while reconnecting, then fail fast), reconnect
// with backoff + jitter, auto-resubscribe, gaps reported.
const pubsub = new RedisPubSubClient({
  url, // or host, port, db, username, password, tls: { ca } / ssl, or an existing ioredis instance
  maxRetries: 2,
  dlqSuffix: '.dlq',
  reconnectDelay: 100,
  maxReconnectAttempts: 0, // 0: keep trying
  batchPublishes: true, // default: a tick's publishes to a channel share one PUBLISH (a CloudEvents batch); false for non-contractbus subscribers
  onGap: (gap) => console.log(`pubsub: cut off for ${gap.to - gap.from} ms (${gap.reason}); lost messages on ${gap.subscriptions}`),
});
await pubsub.connect();
console.log('pubsub capabilities:', pubsub.capabilities);

// 1. Patterns: `*` one segment, `#` any number. metadata.topic is the concrete channel.
const users = countdown(2);
await pubsub.subscribePattern<{ id: string }>(`user.${run}.*`, (event, meta) => {
  console.log(`pubsub: ${meta.topic} → user ${event.id} (correlation ${meta.correlationId}, headers ${JSON.stringify(meta.headers)})`);
  users.tick();
});
await pubsub.publish(`user.${run}.created`, { id: 'u-1' }, { correlationId: 'req-1', headers: { tenant: 'acme' } });
await pubsub.publish(`user.${run}.deleted`, { id: 'u-2' });
await users.done;

// 2. Validation and dead-lettering: invalid input goes straight to `<topic>.dlq` with the zod issues
//    as the reason (Pub/Sub dead letters are also kept in a Redis Stream of the same name).
const ordersChannel = `orders.${run}`;
createdStreams.push(`${ordersChannel}.dlq`);
const pubsubDead = countdown(2);
await pubsub.subscribe(`${ordersChannel}.dlq`, (payload, meta) => {
  console.log(`pubsub DLQ: ${JSON.stringify(payload)} reason="${meta.headers['x-contractbus-dlq-reason']}" error="${meta.headers['x-contractbus-dlq-error-message']}"`);
  pubsubDead.tick();
});
let inProcessAttempts = 0;
await pubsub.subscribe<Order>(
  ordersChannel,
  (order, meta) => {
    inProcessAttempts = meta.attempt;
    if (order.orderId === 'flaky') throw new Error('warehouse unavailable');
    console.log(`pubsub: order ${order.orderId} ok`);
  },
  { validate: (p) => Order.parse(p), retryDelay: 20 },
);
await pubsub.publish(ordersChannel, { orderId: 'o-1', total: 10 });
await pubsub.publish(ordersChannel, { orderId: 'o-2', total: 'ten' }); // invalid → DLQ at once
await pubsub.publish(ordersChannel, { orderId: 'flaky', total: 1 }); // retried in process, then DLQ
await pubsubDead.done;
console.log(`pubsub: flaky order tried ${inProcessAttempts} times before dead-lettering`);

// 3. sendToDlq by hand, health and metrics.
await pubsub.sendToDlq({ topic: ordersChannel, payload: { orderId: 'manual' } }, 'rejected by an operator');
const pubsubHealth = await pubsub.healthCheck();
console.log('pubsub health:', pubsubHealth.isHealthy, pubsubHealth.issues, 'ping ms', (pubsubHealth.details.transport as { pingMs?: number }).pingMs);
console.log('pubsub metrics:', pubsub.getMetrics().byTopic[ordersChannel]);

// ─── Redis Streams ───────────────────────────────────────────────────────────────────────────────
// XADD with headers as entry fields and MAXLEN ~ trimming; XREADGROUP on a dedicated connection;
// XACK after the handler; XAUTOCLAIM of entries a dead consumer left pending; Redis's delivery
// count drives retries; NOGROUP after a restart recreates the group.
const idempotency = new RedisIdempotencyStore({ url, prefix: `example.${run}:` });
const streams = new RedisStreamsClient({
  url: streamsUrl,
  maxLen: 10_000,
  claimIdleMs: 30_000, // longer than any handler runs
  maxRetries: 2,
  batchPublishes: true, // default: a tick's publishes to a stream are appended by one EVALSHA (plain XADD where scripts are refused)
});
await streams.connect();
console.log('streams capabilities:', streams.capabilities);

// 4. Competing consumers in one group, plus a second group that gets everything too (fan-out).
const invoices = stream('invoices');
const billing = countdown(4);
const audit = countdown(4);
const byMember: Record<string, number> = { a: 0, b: 0 };
for (const member of ['a', 'b'] as const) {
  await streams.subscribe<Order>(invoices, () => {
    byMember[member] = (byMember[member] ?? 0) + 1;
    billing.tick();
  }, { group: 'billing', concurrency: 2, validate: (p) => Order.parse(p) });
}
await streams.subscribe(invoices, () => audit.tick(), { group: 'audit' });
for (let i = 0; i < 4; i++) {
  const receipt = await streams.publish(invoices, { orderId: `inv-${i}`, total: i }, { key: `customer-${i % 2}` });
  if (i === 0) console.log(`streams: first entry id ${receipt.offset}`);
}
await Promise.all([billing.done, audit.done]);
console.log('streams: billing members shared the work', byMember, '; audit got all 4');

// 5. Retries through Redis: a failing handler's entry stays pending and comes back with Redis's
//    delivery count (metadata.attempt), then goes to the dead-letter topic with the reason.
const payments = stream('payments');
const paymentsDead = countdown(1);
await streams.subscribe(`${payments}.dlq`, (_p, meta) => {
  console.log(`streams DLQ: reason="${meta.headers['x-contractbus-dlq-reason']}" attempts=${meta.headers['x-contractbus-dlq-attempts']}`);
  paymentsDead.tick();
}, { group: 'ops' });
await streams.subscribe(payments, (_p, meta) => {
  console.log(`streams: payment attempt ${meta.attempt} (redelivered: ${meta.redelivered})`);
  throw new Error('card processor timeout');
}, { group: 'payments', retryDelay: 50 });
await streams.publish(payments, { orderId: 'p-1', total: 99 });
await paymentsDead.done;

// 6. Manual acks: nack with a delay keeps the entry pending in Redis until it comes back.
const shipments = stream('shipments');
const shipped = countdown(2);
await streams.subscribe<{ parcel: string }>(shipments, async (event, meta) => {
  if (event.parcel === 'later' && meta.attempt === 1) {
    console.log('streams: nack with delay, Redis keeps it pending meanwhile');
    await meta.nack({ requeue: true, delayMs: 100 });
    return;
  }
  console.log(`streams: shipped ${event.parcel} (attempt ${meta.attempt})`);
  await meta.ack();
  shipped.tick();
}, { group: 'shipping', autoAck: false });
await streams.publish(shipments, { parcel: 'now' });
await streams.publish(shipments, { parcel: 'later' });
await shipped.done;

// 7. Idempotency shared by every replica (SET key NX PX ttl): the same messageId twice is handled once.
const refunds = stream('refunds');
const refunded = countdown(2);
await streams.subscribe<{ refund: string }>(refunds, (event) => {
  console.log(`streams: refund ${event.refund} handled`);
  refunded.tick();
}, { group: 'refunds', idempotencyStore: idempotency });
await streams.publish(refunds, { refund: 'r-1' }, { messageId: `refund-${run}` });
await streams.publish(refunds, { refund: 'r-1' }, { messageId: `refund-${run}` }); // duplicate: dropped
await streams.publish(refunds, { refund: 'r-2' });
await refunded.done;
console.log('streams: duplicates dropped', streams.getMetrics().byTopic[refunds]?.duplicatesDropped);

// 8. Health: ping, connections, per-subscription pending and lag (XINFO GROUPS).
const streamsHealth = await streams.healthCheck();
const subs = (streamsHealth.details.transport as { subscriptions: Array<Record<string, unknown>> }).subscriptions;
console.log('streams health:', streamsHealth.isHealthy, subs.map((s) => `${s.topic}/${s.group}: pending ${s.pending}, lag ${s.lag}`));

// 9. connect(url) picks the client from the scheme: redis:// Pub/Sub, redis+streams:// Streams.
const viaUrl = await connect(streamsUrl);
console.log(`connect('${streamsUrl}') → ${viaUrl.name}`);
await viaUrl.disconnect();

// Graceful shutdown: subscriptions stop, in-flight handlers finish, private groups are destroyed.
await pubsub.disconnect();
await streams.disconnect();
const cleanup = new RedisStreamsClient(streamsUrl);
await cleanup.connect();
const admin = cleanup.redis.connections.command;
await admin.del(...createdStreams);
// The idempotency keys would expire by themselves (24 h); the example leaves nothing behind.
let cursor = '0';
do {
  const [next, keys] = (await admin.call('SCAN', cursor, 'MATCH', `example.${run}:*`, 'COUNT', 100)) as [string, string[]];
  if (keys.length > 0) await admin.del(...keys);
  cursor = next;
} while (cursor !== '0');
await cleanup.disconnect();
await idempotency.close();
console.log('done');
