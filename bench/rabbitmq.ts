/**
 * RabbitMQ benchmark: raw amqplib (confirm channel, persistent messages, manual acks, noDelay)
 * against contractbus (same guarantees plus mandatory routing and zod validation on consume), in
 * one run. Each case publishes MESSAGES small JSON messages with WINDOW unconfirmed publishes in
 * flight and one consumer on a durable queue; throughput is end to end (first publish → last
 * handled); latency is publish call → handler per message. Two more suites: `rabbitmq publish`
 * (confirmed publishes alone into a bound queue) and `rabbitmq backlog` (a filled queue drained).
 * Run: node --conditions=development bench/rabbitmq.ts
 */
import { randomUUID } from 'node:crypto';
import { connect, type ConfirmChannel } from 'amqplib';
import type { BenchResult } from './lib.ts';
import { drainBacklog, drive, nowMs, Order, order, publishOnly, uniqueName, type Measured, type OrderT } from './lib.ts';
import { RabbitMQTransport } from '../runtime/bindings/rabbitmq/transport.ts';
import * as rabbit from '../runtime/bindings/rabbitmq/index.ts';
import type { MessageBroker } from '../runtime/core/types.ts';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WINDOW = 100;
const SHAPE = { messages: MESSAGES, window: WINDOW };
const PREFETCH = 200;

/** Raw amqplib: a durable queue bound to the exchange, `fill` messages published into it (confirmed). */
async function rawQueue(fill: number): Promise<{ connection: Awaited<ReturnType<typeof connect>>; pub: ConfirmChannel; exchange: string; topic: string; queue: string; publish: (i: number) => Promise<void> }> {
  const connection = await connect(AMQP_URL, { noDelay: true });
  const pub: ConfirmChannel = await connection.createConfirmChannel();
  const exchange = 'contractbus';
  const topic = uniqueName('bench.raw');
  const queue = `bench.${topic}`;
  await pub.assertExchange(exchange, 'topic', { durable: true });
  await pub.assertQueue(queue, { durable: true });
  await pub.bindQueue(queue, exchange, topic);
  const publish = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      pub.publish(exchange, topic, Buffer.from(JSON.stringify(order(i))), { persistent: true, contentType: 'application/json' }, (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
    });
  if (fill > 0) await fillWith(publish, fill);
  return { connection, pub, exchange, topic, queue, publish };
}

async function fillWith(publish: (i: number) => Promise<unknown>, count: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => { while (next < count) await publish(next++); }));
}

async function raw(): Promise<Measured> {
  const { connection, pub, queue, publish } = await rawQueue(0);
  const sub = await connection.createChannel();
  await sub.prefetch(PREFETCH);
  const latencies: number[] = [];
  await sub.consume(queue, (msg) => {
    if (!msg) return;
    const message = JSON.parse(msg.content.toString('utf8')) as OrderT;
    latencies.push(nowMs() - message.sentAt);
    sub.ack(msg);
  });
  const result = await drive(publish, () => latencies.length, latencies, SHAPE);
  await pub.deleteQueue(queue);
  await connection.close();
  return result;
}

/** The binding seam alone: what the transport costs before the shared pipeline. */
async function transportOnly(): Promise<Measured> {
  const transport = new RabbitMQTransport({ url: AMQP_URL });
  await transport.connect();
  const topic = uniqueName('bench.transport');
  const latencies: number[] = [];
  const sub = await transport.consume({ topic, group: 'bench', prefetch: PREFETCH, startFrom: 'earliest' }, async (d) => {
    // The body is amqplib's Buffer: decode it in place like the raw case (Buffer.from(body) would copy it).
    const body = d.message.body;
    const message = JSON.parse((Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)).toString('utf8')) as OrderT;
    latencies.push(nowMs() - message.sentAt);
    await d.ack();
  });
  let id = 0;
  const result = await drive(
    (i) => transport.send({ messageId: String(++id), topic, body: Buffer.from(JSON.stringify(order(i))), headers: {}, contentType: 'application/json', timestamp: Date.now() }, { timeoutMs: 10_000 }),
    () => latencies.length,
    latencies, SHAPE);
  await sub.close();
  await transport.deleteQueue(`bench.${topic}`);
  await transport.close();
  return result;
}

async function contractbus(broker: MessageBroker): Promise<Measured> {
  await broker.connect();
  const topic = uniqueName('bench.contractbus');
  const latencies: number[] = [];
  const validate = (payload: unknown): OrderT => Order.parse(payload);
  const subscription = await broker.subscribe<OrderT>(
    topic,
    (message) => {
      latencies.push(nowMs() - message.sentAt);
    },
    { validate, group: 'bench', concurrency: WINDOW, prefetch: PREFETCH },
  );
  const result = await drive((i) => broker.publish(topic, order(i)), () => latencies.length, latencies, SHAPE);
  await subscription.close();
  await broker.disconnect();
  const admin = new RabbitMQTransport({ url: AMQP_URL });
  await admin.connect();
  await admin.deleteQueue(`bench.${topic}`).catch(() => undefined);
  await admin.close();
  return result;
}

async function rawPublishOnly(): Promise<Measured> {
  const { connection, pub, queue, publish } = await rawQueue(0);
  const result = await publishOnly(publish, SHAPE);
  await pub.deleteQueue(queue);
  await connection.close();
  return result;
}

/**
 * Raw amqplib publishing what contractbus puts on the wire: mandatory (to see unroutable
 * messages), a message id, a timestamp and one header. The broker's extra routing and property work
 * shows in the tail latency, so this separates the client's share of contractbus' p99 from the broker's.
 */
async function rawPublishOnlyAsContractbus(): Promise<Measured> {
  const { connection, pub, exchange, topic, queue } = await rawQueue(0);
  const publish = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const now = Date.now();
      const options = { persistent: true, mandatory: true, contentType: 'application/json', messageId: randomUUID(), timestamp: Math.floor(now / 1000), headers: { timestamp_in_ms: now } };
      pub.publish(exchange, topic, Buffer.from(JSON.stringify(order(i))), options, (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
    });
  const result = await publishOnly(publish, SHAPE);
  await pub.deleteQueue(queue);
  await connection.close();
  return result;
}

async function rawBacklog(): Promise<Measured> {
  const { connection, pub, queue } = await rawQueue(MESSAGES);
  const sub = await connection.createChannel();
  await sub.prefetch(PREFETCH);
  let handled = 0;
  const done = drainBacklog(() => handled, MESSAGES);
  await sub.consume(queue, (msg) => {
    if (!msg) return;
    JSON.parse(msg.content.toString('utf8'));
    handled++;
    sub.ack(msg);
  });
  const result = await done;
  await pub.deleteQueue(queue);
  await connection.close();
  return result;
}

/** contractbus with its queue declared (a subscription opened and closed): publishes are mandatory, so the queue must exist. */
async function contractbusQueue(): Promise<{ broker: MessageBroker; topic: string; dispose: () => Promise<void> }> {
  const broker = new (clientClass())({ url: AMQP_URL });
  await broker.connect();
  const topic = uniqueName('bench.contractbus');
  const declare = await broker.subscribe(topic, () => undefined, { group: 'bench' });
  await declare.close();
  const dispose = async (): Promise<void> => {
    await broker.disconnect();
    const admin = new RabbitMQTransport({ url: AMQP_URL });
    await admin.connect();
    await admin.deleteQueue(`bench.${topic}`).catch(() => undefined);
    await admin.close();
  };
  return { broker, topic, dispose };
}

async function contractbusPublishOnly(): Promise<Measured> {
  const { broker, topic, dispose } = await contractbusQueue();
  const result = await publishOnly((i) => broker.publish(topic, order(i)), SHAPE);
  await dispose();
  return result;
}

async function contractbusBacklog(): Promise<Measured> {
  const { broker, topic, dispose } = await contractbusQueue();
  await fillWith((i) => broker.publish(topic, order(i)), MESSAGES);
  let handled = 0;
  const done = drainBacklog(() => handled, MESSAGES);
  const subscription = await broker.subscribe<OrderT>(topic, () => void handled++, { validate: (payload: unknown) => Order.parse(payload), group: 'bench', concurrency: WINDOW, prefetch: PREFETCH });
  const result = await done;
  await subscription.close();
  await dispose();
  return result;
}

function clientClass(): new (options: { url: string }) => MessageBroker {
  return (rabbit as Record<string, unknown>).RabbitMQClient as new (options: { url: string }) => MessageBroker;
}

/** Median by throughput of ROUNDS interleaved runs: the machine is shared and fsync timing varies a lot. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function median(runs: Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.msgPerSec - b.msgPerSec);
  return sorted[Math.floor(sorted.length / 2)] as Measured;
}

export async function run(): Promise<BenchResult[]> {
  const cases: Array<{ suite: string; name: string; baseline: boolean; note?: string; once: () => Promise<Measured> }> = [
    { suite: 'rabbitmq', name: 'raw amqplib (confirm, persistent)', baseline: true, once: raw },
    { suite: 'rabbitmq', name: 'contractbus transport only', baseline: false, note: 'binding seam, no pipeline', once: transportOnly },
    { suite: 'rabbitmq', name: 'contractbus (validated)', baseline: false, once: () => contractbus(new (clientClass())({ url: AMQP_URL })) },
    { suite: 'rabbitmq publish', name: 'raw amqplib publish (confirm, persistent)', baseline: true, once: rawPublishOnly },
    { suite: 'rabbitmq publish', name: 'raw amqplib publish, mandatory + ids (as contractbus)', baseline: false, once: rawPublishOnlyAsContractbus },
    { suite: 'rabbitmq publish', name: 'contractbus publish', baseline: false, once: contractbusPublishOnly },
    { suite: 'rabbitmq backlog', name: 'raw amqplib consume + ack', baseline: true, once: rawBacklog },
    { suite: 'rabbitmq backlog', name: 'contractbus subscribe (validated)', baseline: false, once: contractbusBacklog },
  ];
  // BENCH_SUITES=rabbitmq publish (prefixes of suite names) and BENCH_CASES=raw,transport,contractbus
  // (substrings of case names) run a subset, e.g. to profile one case alone.
  const suites = process.env.BENCH_SUITES?.split(',').map((x) => x.trim()).filter(Boolean);
  const only = process.env.BENCH_CASES?.split(',').filter(Boolean);
  const selected = cases.filter((c) => (suites === undefined || suites.some((prefix) => c.suite.startsWith(prefix))) && (only === undefined || only.some((o) => c.name.includes(o))));
  await raw(); // warm-up: JIT, broker queues, connections
  const runs = selected.map(() => [] as Measured[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, c] of selected.entries()) runs[index]!.push(await c.once());
  }
  return selected.map((c, index) => {
    const m = median(runs[index]!);
    const spread = runs[index]!.map((r) => Math.round(r.msgPerSec)).join('/');
    const cpu = runs[index]!.map((r) => r.cpuUsPerMsg).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] ?? Number.NaN;
    return { suite: c.suite, case: c.name, baseline: c.baseline, messages: MESSAGES, msgPerSec: Math.round(m.msgPerSec), p50Ms: m.p50Ms, p99Ms: m.p99Ms, heapMb: m.heapMb, note: `${c.note ? `${c.note}; ` : ''}CPU ${cpu.toFixed(0)} µs/msg (both ends, one process); median of ${ROUNDS} interleaved runs (msg/s ${spread})` };
  });
}

if (import.meta.main) {
  const rows = await run();
  const base = (suite: string): BenchResult | undefined => rows.find((r) => r.suite === suite && r.baseline);
  console.table(
    rows.map((r) => ({
      suite: r.suite,
      case: r.case,
      'msg/s': r.msgPerSec,
      'vs raw': r.baseline ? '' : `${((r.msgPerSec ?? 0) / (base(r.suite)?.msgPerSec ?? 1)).toFixed(2)}×`,
      'p50 ms': r.p50Ms?.toFixed(3),
      'p99 ms': r.p99Ms?.toFixed(3),
      'p99 +ms': r.baseline ? '' : ((r.p99Ms ?? 0) - (base(r.suite)?.p99Ms ?? 0)).toFixed(3),
      'heap MB': r.heapMb?.toFixed(1),
      note: r.note,
    })),
  );
}
