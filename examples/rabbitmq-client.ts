/**
 * Every RabbitMQ feature by hand, against the local broker:
 *   npm run brokers -- start rabbitmq
 *   node --conditions=development examples/rabbitmq-client.ts
 * It creates its own exchange and queues (unique names), prints what happens, cleans up and exits.
 */
import { randomUUID } from 'node:crypto';
import { RabbitMQClient, UnroutableError, type RabbitMQMessage } from 'contractbus/rabbitmq';

const run = randomUUID().slice(0, 6);
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

// Safe defaults: publisher confirms, persistent messages, mandatory routing, manual acks after the
// handler, prefetch 10, heartbeat 10 s, reconnect with backoff and jitter, bounded publish buffer.
const broker = new RabbitMQClient({
  url, // or host/port/username/password/virtualHost, hosts: ['node1', 'node2:5673'], tls: { ca }
  exchangeName: `example.${run}`,
  exchangeType: 'topic',
  prefetch: 20,
  maxPriority: 9, // subscription queues honour `priority`
  reconnectDelay: 500,
  maxReconnectAttempts: Infinity,
  maxRetries: 2,
});
await broker.connect();
console.log('connected; capabilities:', broker.capabilities);

const done = (n: number) => {
  let left = n;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { tick: () => --left === 0 && resolve(), promise };
};

// 1. The generic API: subscribe with a consumer group (a durable queue `<group>.<topic>`), validation,
//    retries through TTL retry queues, then the dead-letter topic with reason headers.
type Order = { orderId: string; total: number };
const orders = done(2);
const failures = done(3);
const orderSub = await broker.subscribe<Order>(
  'orders.created',
  async (order, meta) => {
    if (order.total < 0) {
      failures.tick();
      throw new Error(`negative total (attempt ${meta.attempt})`);
    }
    console.log(`billing got ${order.orderId} (attempt ${meta.attempt}, correlation ${meta.correlationId})`);
    orders.tick();
  },
  {
    group: 'billing',
    concurrency: 4,
    retryDelay: 100,
    validate: (p) => {
      const o = p as Partial<Order>;
      if (typeof o.orderId !== 'string' || typeof o.total !== 'number') throw new Error('not an order');
      return o as Order;
    },
  },
);
// A pattern subscription (topic exchange: `*` one word, `#` zero or more) without a group: a private queue.
const audit = await broker.subscribe('orders.#', (_m, meta) => console.log(`audit saw ${meta.topic}`));

await broker.publish('orders.created', { orderId: 'o-1', total: 42 }, { correlationId: 'req-1', headers: { tenant: 'acme' } });
await broker.publish('orders.created', { orderId: 'o-2', total: 7 }, { priority: 9, ttl: 60 });
await broker.publish('orders.created', { orderId: 'o-3', total: -1 }); // fails 3 times → dead letter
await orders.promise;
await failures.promise;

// Dead letters wait in a durable queue named after the dead-letter topic.
await waitUntil(async () => (await broker.queueDepth('orders.created.dlq')) === 1);
const dlq = await broker.consume('orders.created.dlq', async (m: RabbitMQMessage) => {
  console.log('dead letter:', m.content, 'reason:', m.headers['x-contractbus-dlq-reason'], m.headers['x-contractbus-dlq-error-message']);
  await broker.ackMessage(m.deliveryTag);
});

// 2. Native topology: a work queue with a dead-letter exchange, a message TTL and priorities.
const dlx = `example.${run}.dlx`;
const work = `example.${run}.work`;
const parked = `example.${run}.parked`;
await broker.declareExchange(dlx, 'fanout');
await broker.declareQueue(parked);
await broker.bindQueue(parked, dlx, '');
await broker.declareQueue(work, { arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 60_000, 'x-max-priority': 5 } });
await broker.bindQueue(work, `example.${run}`, 'jobs.*');

// 3. Native publish options: priority, per-message expiration (ms), mandatory, no confirm.
await broker.publish('jobs.resize', { image: 'a.png' }, { priority: 5, expiration: 30_000 });
await broker.publish('jobs.resize', { image: 'b.png' }, { persistent: false, confirm: false });
// A topic nobody subscribes to: by default accepted and counted (health: unroutable), like any
// pub/sub without subscribers; with mandatory: true (here or on the client) it fails instead.
await broker.publish('nobody.listens', { fine: 'to drop' });
try {
  await broker.publish('nobody.listens', { command: 'must reach someone' }, { mandatory: true });
} catch (error) {
  if (error instanceof UnroutableError) console.log('unroutable publish refused:', error.message.split('. ')[0]);
}

// 4. Native consume with explicit ackMessage / nackMessage by delivery tag.
const jobs = done(2);
const worker = await broker.consume<{ image: string }>(
  work,
  async (m) => {
    if (m.content.image === 'b.png') {
      console.log('rejecting b.png → dead-letter exchange → parked queue');
      await broker.nackMessage(m.deliveryTag, { requeue: false });
    } else {
      console.log(`resized ${m.content.image} (priority ${m.priority})`);
      await broker.ackMessage(m.deliveryTag);
    }
    jobs.tick();
  },
  { prefetch: 5, concurrency: 2 },
);
await jobs.promise;
await waitUntil(async () => (await broker.queueDepth(parked)) === 1);
console.log('parked queue holds the rejected job');

// 5. Health and metrics.
const health = await broker.healthCheck();
console.log('healthy:', health.isHealthy, health.issues);
const metrics = broker.getMetrics();
console.log(`published ${metrics.messagesPublished}, consumed ${metrics.messagesConsumed}, retries ${metrics.retries}, dead-lettered ${metrics.deadLettered}`);

// Clean up what this example declared, then drain and disconnect.
await worker.close();
await dlq.close();
await orderSub.close();
await audit.close();
for (const queue of [work, parked, 'billing.orders.created', 'orders.created.dlq']) await broker.deleteQueue(queue);
for (const exchange of [dlx, `example.${run}`]) await broker.deleteExchange(exchange);
// (retry queues billing.orders.created.retry.<ms> remove themselves once idle: x-expires)
await broker.disconnect();
console.log('done');

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('example timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
