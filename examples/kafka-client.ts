/**
 * Every Kafka feature by hand, against the local broker:
 *   npm run brokers -- start kafka
 *   node --conditions=development examples/kafka-client.ts            # default driver
 *   KAFKA_DRIVER=kafkajs node --conditions=development examples/kafka-client.ts
 * It creates its own topics (unique names), prints what happens and exits.
 */
import { randomUUID } from 'node:crypto';
import { KafkaClient, type KafkaDriverName } from 'contractbus/kafka';

const run = randomUUID().slice(0, 6);
const topic = (name: string): string => `example.${run}.${name}`;
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const driver = process.env.KAFKA_DRIVER as KafkaDriverName | undefined;

// Safe defaults: idempotent producer with acks=all, one long-lived producer, commits only after
// the handler (contiguous prefix per partition), topics created on first use, dead-letter topics too.
// The same client from a URL: new KafkaClient(`kafka://${brokers}?clientId=example&driver=kafkajs`).
const kafka = new KafkaClient({
  bootstrapServers: brokers,
  clientId: `example-${run}`,
  ...(driver ? { driver } : {}), // 'platformatic' (default) or 'kafkajs'
  // securityProtocol: 'SASL_SSL', saslMechanism: 'SCRAM-SHA-512', saslUsername, saslPassword, sslCafile,
  topicConfig: { [topic('orders')]: { partitions: 3, replicationFactor: 1 } },
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxRetries: 2,
});
await kafka.connect();
console.log(`connected with the ${kafka.kafka.driverName} driver; capabilities:`, kafka.capabilities);

const countdown = (n: number) => {
  let left = n;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { tick: () => --left === 0 && resolve(), promise };
};

// 1. The generic API: a consumer group (members share partitions), validation, in-process retries
//    with backoff, then the dead-letter topic `<topic>.dlq` with reason headers.
type Order = { orderId: string; customer: string; total: number };
const isOrder = (p: unknown): Order => {
  const o = p as Order;
  if (typeof o?.orderId !== 'string' || typeof o.total !== 'number') throw new TypeError('not an Order');
  return o;
};
const handled = countdown(7);
const billing = await kafka.subscribe<Order>(
  topic('orders'),
  async (order, meta) => {
    if (order.total < 0) throw new Error(`negative total (attempt ${meta.attempt})`);
    console.log(`billing: ${order.orderId} for ${meta.key} (attempt ${meta.attempt}, correlation ${meta.correlationId ?? '-'})`);
    handled.tick();
  },
  { group: 'billing', validate: isOrder, retryDelay: 50 },
);
const deadLetters = countdown(2);
await kafka.subscribe(topic('orders.dlq'), (payload, meta) => {
  console.log(`dead letter: ${JSON.stringify(payload)} — ${meta.headers['x-contractbus-dlq-reason']} (from ${meta.headers['x-contractbus-dlq-original-topic']})`);
  deadLetters.tick();
});

// 2. produce: the key picks the partition (Java's partitioner: order per customer), headers travel
//    as Kafka headers next to ce_id; the receipt has the partition and offset. Publishes made in
//    the same tick share one produce request (batchPublishes, default true), each with its own receipt.
const receipt = await kafka.produce(topic('orders'), { orderId: 'o-1', customer: 'alice', total: 10 }, {
  key: 'alice',
  correlationId: 'req-1',
  headers: { ce_type: 'shop.order.created', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
});
console.log(`produced ${receipt.messageId} to partition ${receipt.partition} at offset ${receipt.offset}`);
const together = await Promise.all(['carol', 'dave', 'erin'].map((customer, n) => kafka.publish(topic('orders'), { orderId: `o-t${n}`, customer, total: 5 }, { key: customer })));
console.log(`three publishes, one request: ${together.map((r) => `partition ${r.partition} offset ${r.offset}`).join(', ')}`);

// 3. produceBatch: one produce request for many messages.
await kafka.produceBatch(topic('orders'), [
  { key: 'bob', value: { orderId: 'o-2', customer: 'bob', total: 20 } },
  { key: 'alice', value: { orderId: 'o-3', customer: 'alice', total: 30 } },
  { key: 'carol', value: { orderId: 'o-4', customer: 'carol', total: 40 } },
  { key: 'mallory', value: { orderId: 'o-5', customer: 'mallory', total: -1 } }, // retried, then dead-lettered
  { key: 'mallory', value: { nonsense: true } }, // fails validation: straight to the DLQ
]);
await Promise.all([handled.promise, deadLetters.promise]);

// 4. consume(): Kafka-style, several topics in one group, manual commits. The handler's third
//    argument says where the record sits; commitOffset takes the NEXT offset to read.
const audit = topic('audit');
await kafka.produceBatch(audit, Array.from({ length: 5 }, (_, n) => ({ value: { n } })));
const audited = countdown(5);
const auditSub = await kafka.consume<{ n: number }>({
  topics: [audit],
  groupId: `audit-${run}`,
  autoOffsetReset: 'earliest',
  enableAutoCommit: false,
  maxPollRecords: 100,
  sessionTimeoutMs: 10_000,
  concurrency: 2, // partitions in parallel; records of one partition stay in order
  handler: async (message, _meta, record) => {
    if (record && message.n % 2 === 1) await kafka.commitOffset(record.topic, record.partition, record.nextOffset);
    audited.tick();
  },
});
await audited.promise;
await auditSub.close();
console.log('audit lag after manual commits:', await kafka.lag(`audit-${run}`, audit));

// 5. nack with requeue: Kafka cannot redeliver one record, so it is redelivered in process, in
//    order, after the delay; past maxRedeliveries (default 5) it goes to the dead-letter topic.
const flaky = topic('flaky');
const settled = countdown(1);
await kafka.subscribe<{ job: string }>(
  flaky,
  async (job, meta) => {
    if (meta.attempt < 3) {
      console.log(`flaky: ${job.job} not ready (attempt ${meta.attempt}), requeue`);
      return meta.nack({ requeue: true, delayMs: 100 });
    }
    console.log(`flaky: ${job.job} done on attempt ${meta.attempt}`);
    await meta.ack();
    settled.tick();
  },
  { autoAck: false },
);
await kafka.publish(flaky, { job: 'resize-image' });
await settled.promise;

// 6. Dead-letter by hand, health (connection, group membership, lag per partition) and metrics.
await kafka.sendToDlq({ topic: topic('orders'), payload: { orderId: 'o-9' } }, 'refunded manually');
const health = await kafka.healthCheck();
const transport = health.details['transport'] as { subscriptions?: Array<{ groupId: string; assignment: unknown[]; lag?: Array<{ partition: number; lag: number }> }> };
console.log('healthy:', health.isHealthy, health.issues);
for (const s of transport.subscriptions ?? []) console.log(`  group ${s.groupId}: ${s.assignment.length} partition(s), lag ${JSON.stringify(s.lag?.map((l) => [l.partition, l.lag]))}`);
const metrics = kafka.getMetrics();
console.log(`metrics: published ${metrics.messagesPublished}, consumed ${metrics.messagesConsumed}, retries ${metrics.retries}, dead-lettered ${metrics.deadLettered}`);

await billing.close();
await kafka.disconnect();
console.log('done');
