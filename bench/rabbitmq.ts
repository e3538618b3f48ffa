/**
 * RabbitMQ benchmark: raw amqplib (confirm channel, persistent messages, manual acks, noDelay)
 * against contractbus (same guarantees plus mandatory routing and zod validation on consume), in
 * one run. Each case publishes MESSAGES small JSON messages with WINDOW unconfirmed publishes in
 * flight and one consumer on a durable queue; throughput is end to end (first publish → last
 * handled); latency is publish call → handler per message.
 * Run: node --conditions=development bench/rabbitmq.ts
 */
import { connect, type ConfirmChannel } from 'amqplib';
import type { BenchResult } from './lib.ts';
import { drive, heapUsedMb, nowMs, Order, order, summarise, uniqueName, type Measured, type OrderT } from './lib.ts';
import { RabbitMQTransport } from '../runtime/bindings/rabbitmq/transport.ts';
import * as rabbit from '../runtime/bindings/rabbitmq/index.ts';
import type { MessageBroker } from '../runtime/core/types.ts';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WINDOW = 100;
const SHAPE = { messages: MESSAGES, window: WINDOW };
const PREFETCH = 200;




async function raw(): Promise<Measured> {
  const connection = await connect(AMQP_URL, { noDelay: true });
  const pub: ConfirmChannel = await connection.createConfirmChannel();
  const sub = await connection.createChannel();
  const exchange = 'contractbus';
  const topic = uniqueName('bench.raw');
  const queue = `bench.${topic}`;
  await pub.assertExchange(exchange, 'topic', { durable: true });
  await pub.assertQueue(queue, { durable: true });
  await pub.bindQueue(queue, exchange, topic);
  await sub.prefetch(PREFETCH);
  const latencies: number[] = [];
  await sub.consume(queue, (msg) => {
    if (!msg) return;
    const message = JSON.parse(msg.content.toString('utf8')) as OrderT;
    latencies.push(nowMs() - message.sentAt);
    sub.ack(msg);
  });
  const publish = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      pub.publish(exchange, topic, Buffer.from(JSON.stringify(order(i))), { persistent: true, contentType: 'application/json' }, (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
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

/** Median by throughput of ROUNDS interleaved runs: the machine is shared and fsync timing varies a lot. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function median(runs: Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.msgPerSec - b.msgPerSec);
  return sorted[Math.floor(sorted.length / 2)] as Measured;
}

export async function run(): Promise<BenchResult[]> {
  const Client = (rabbit as Record<string, unknown>).RabbitMQClient as (new (options: { url: string }) => MessageBroker) | undefined;
  const cases: Array<{ name: string; baseline: boolean; note?: string; once: () => Promise<Measured> }> = [
    { name: 'raw amqplib (confirm, persistent)', baseline: true, once: raw },
    { name: 'contractbus transport only', baseline: false, note: 'binding seam, no pipeline', once: transportOnly },
  ];
  if (Client) cases.push({ name: 'contractbus (validated)', baseline: false, once: () => contractbus(new Client({ url: AMQP_URL })) });
  // BENCH_CASES=raw,transport,contractbus (substrings of the case names) runs a subset, e.g. to profile one case alone.
  const only = process.env.BENCH_CASES?.split(',').filter(Boolean);
  if (only) cases.splice(0, cases.length, ...cases.filter((c) => only.some((o) => c.name.includes(o))));
  await raw(); // warm-up: JIT, broker queues, connections
  const runs = cases.map(() => [] as Measured[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, c] of cases.entries()) runs[index]!.push(await c.once());
  }
  return cases.map((c, index) => {
    const m = median(runs[index]!);
    const spread = runs[index]!.map((r) => Math.round(r.msgPerSec)).join('/');
    const cpu = runs[index]!.map((r) => r.cpuUsPerMsg).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] ?? Number.NaN;
    return { suite: 'rabbitmq', case: c.name, baseline: c.baseline, messages: MESSAGES, msgPerSec: Math.round(m.msgPerSec), p50Ms: m.p50Ms, p99Ms: m.p99Ms, heapMb: m.heapMb, note: `${c.note ? `${c.note}; ` : ''}CPU ${cpu.toFixed(0)} µs/msg (both ends, one process); median of ${ROUNDS} interleaved runs (msg/s ${spread})` };
  });
}

if (import.meta.main) {
  const rows = await run();
  const base = rows.find((r) => r.baseline);
  console.table(
    rows.map((r) => ({
      case: r.case,
      'msg/s': r.msgPerSec,
      'vs raw': r.baseline ? '' : `${((r.msgPerSec ?? 0) / (base?.msgPerSec ?? 1)).toFixed(2)}×`,
      'p50 ms': r.p50Ms?.toFixed(3),
      'p99 ms': r.p99Ms?.toFixed(3),
      'p99 +ms': r.baseline ? '' : ((r.p99Ms ?? 0) - (base?.p99Ms ?? 0)).toFixed(3),
      'heap MB': r.heapMb?.toFixed(1),
      note: r.note,
    })),
  );
}
