/**
 * Kafka benchmark, both drivers in one run: raw kafkajs and raw @platformatic/kafka against
 * contractbus on each driver (same guarantees: idempotent producer, acks=all, commits after
 * handling; contractbus adds zod validation on consume). Per driver, three suites:
 * - `produce`: MESSAGES single-message acked publishes, WINDOW in flight; msg/s and ack latency.
 *   Neither raw client lingers: each send() is its own produce request. contractbus sends one
 *   tick's publishes to a topic as one request (batchPublishes, the default), one request per
 *   topic in flight;
 * - `consume`: the raw producer's backlog of that round drained by a fresh group of each contender
 *   (joined → last handled; see measureConsume); the same bytes for all: contractbus's own
 *   publishes share produce requests, and their larger record batches are cheaper to read;
 * - `e2e`: MESSAGES/4 published and consumed at once (saturated); latency publish → handler;
 * - `latency`: 500 paced publishes (one every 2 ms): the latency each stack adds when not queueing.
 * BENCH_ROUNDS (default 1) interleaves rounds (raw, contractbus, raw, …) and reports the median:
 * the machine is shared and noisy. BENCH_MESSAGES (default 20 000). BENCH_WARMUP (default 5 000):
 * messages each contender publishes and drains once before the first round (see warmUp).
 * BENCH_PHASES (default all: produce,consume,e2e,latency) runs only some phases (consume needs produce).
 * Each row also shows process CPU per message (both ends): steadier than msg/s on a busy machine.
 * Run: node --conditions=development bench/kafka.ts
 */
import { Consumer as PltConsumer, Producer as PltProducer, Admin as PltAdmin, ProduceAcks } from '@platformatic/kafka';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { BenchResult } from './lib.ts';
import { heapUsedMb, nowMs, Order, order, publishWindowed, summarise, uniqueName, type OrderT } from './lib.ts';
import { KafkaClient, type KafkaDriverName } from '../runtime/bindings/kafka/index.ts';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const WINDOW = 100;
const PACE_MS = 2;
const PHASES = new Set((process.env.BENCH_PHASES ?? 'produce,consume,e2e,latency').split(','));


interface Measured {
  msgPerSec: number;
  /** Process CPU (user + system) per message, µs, both ends: steadier than wall clock on a shared machine. */
  cpuUsPerMsg: number;
  p50Ms: number;
  p99Ms: number;
  heapMb: number;
}

/** What one implementation offers the benchmark. */
interface Contender {
  label: string;
  createTopic(topic: string): Promise<void>;
  publish(topic: string, value: OrderT, key: string): Promise<unknown>;
  /** Starts a group consumer; resolves once it is joined. */
  consume(topic: string, group: string, onMessage: (value: OrderT) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

function window(count: number, publish: (i: number) => Promise<unknown>, ackLatencies?: number[]): Promise<void> {
  return publishWindowed(count, WINDOW, publish, ackLatencies);
}

/** Process CPU (user + system, µs) since `since`. */
function cpuUs(since: NodeJS.CpuUsage | undefined): number {
  if (!since) return Number.NaN;
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

async function until(predicate: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`bench kafka: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Before the first round, each contender publishes and drains WARMUP messages once, unmeasured:
 * a 20 000-record drain lasts ~0.2 s, mostly spent compiling the consume path (process CPU was
 * twice the main thread's: background JIT), which says little about a long-running consumer.
 * Raw and contractbus get the same warm-up. BENCH_WARMUP=0 measures cold starts instead.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5_000);

async function warmUp(c: Contender): Promise<void> {
  if (WARMUP <= 0) return;
  const topic = uniqueName('bench-kafka-warmup');
  await c.createTopic(topic);
  await window(WARMUP, (i) => c.publish(topic, order(i), `k${i % 64}`));
  let received = 0;
  const stop = await c.consume(topic, uniqueName('bench-group'), () => void received++);
  await until(() => received >= WARMUP, `${c.label} warm-up`);
  await stop();
}

/** Publishes MESSAGES (acked, WINDOW in flight) to a new topic; the topic is the consume backlog. */
async function measureProduce(c: Contender): Promise<{ measured: Measured; topic: string }> {
  const topic = uniqueName('bench-kafka');
  await c.createTopic(topic);
  await c.publish(topic, order(-1), 'warm-up');
  const latencies: number[] = [];
  const heap = heapUsedMb();
  const cpu = process.cpuUsage();
  const t0 = nowMs();
  await window(MESSAGES, (i) => c.publish(topic, order(i), `k${i % 64}`), latencies);
  const elapsed = nowMs() - t0;
  return { measured: { msgPerSec: (MESSAGES / elapsed) * 1000, cpuUsPerMsg: cpuUs(cpu) / MESSAGES, ...summarise(latencies), heapMb: heapUsedMb() - heap }, topic };
}

/**
 * A fresh group drains the backlog left by measureProduce: from the moment the consumer has joined
 * (consume() resolved) to the last record handled, wall clock and process CPU. Not from the first
 * record: a client that fetches the whole backlog in one response (raw @platformatic/kafka's
 * default maxBytes is 50 MiB) decodes all of it before handing out the first record, so that
 * clock would leave most of its work out (it did until 2026-11-29: raw 481k msg/s "from the first
 * record", 100k records in 3 fetches, while its drain took longer than contractbus' overall).
 */
async function measureConsume(c: Contender, topic: string): Promise<Measured> {
  const total = MESSAGES + 1;
  let received = 0;
  let first = 0;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let last = 0;
  const heap = heapUsedMb();
  const stop = await c.consume(topic, uniqueName('bench-group'), () => {
    if (received++ === 0) {
      first = nowMs();
      cpuAtFirst = process.cpuUsage();
    }
    if (received === total) last = nowMs();
  });
  const joined = nowMs();
  const cpuAtJoin = process.cpuUsage();
  await until(() => received >= total, `${c.label} draining ${total} messages`);
  // Records handed out before consume() resolved (a driver may report the join late): start there.
  const fromFirst = received > 0 && first < joined;
  const elapsed = last - (fromFirst ? first : joined);
  const cpuUsPerMsg = cpuUs(fromFirst ? cpuAtFirst : cpuAtJoin) / (total - 1);
  const heapMb = heapUsedMb() - heap;
  await stop();
  return { msgPerSec: ((total - 1) / elapsed) * 1000, cpuUsPerMsg, p50Ms: Number.NaN, p99Ms: Number.NaN, heapMb };
}

/** Publish and consume at once; latency is publish call → handler, per message. */
async function measureEndToEnd(c: Contender): Promise<Measured> {
  const count = Math.max(1_000, Math.floor(MESSAGES / 4));
  const topic = uniqueName('bench-kafka-e2e');
  await c.createTopic(topic);
  const latencies: number[] = [];
  let received = 0;
  const stop = await c.consume(topic, uniqueName('bench-group'), (value) => {
    latencies.push(nowMs() - value.sentAt);
    received++;
  });
  const heap = heapUsedMb();
  const cpu = process.cpuUsage();
  const t0 = nowMs();
  await window(count, (i) => c.publish(topic, order(i), `k${i % 64}`));
  await until(() => received >= count, `${c.label} end to end`);
  const elapsed = nowMs() - t0;
  const cpuUsPerMsg = cpuUs(cpu) / count;
  const heapMb = heapUsedMb() - heap;
  await stop();
  return { msgPerSec: (count / elapsed) * 1000, cpuUsPerMsg, ...summarise(latencies), heapMb };
}

/** Paced publishes (one every PACE_MS, none in flight together): the latency a quiet system adds. */
async function measureLatency(c: Contender): Promise<Measured> {
  const count = Number(process.env.BENCH_LATENCY_MESSAGES ?? 500);
  const topic = uniqueName('bench-kafka-latency');
  await c.createTopic(topic);
  const latencies: number[] = [];
  const stop = await c.consume(topic, uniqueName('bench-group'), (value) => void latencies.push(nowMs() - value.sentAt));
  const heap = heapUsedMb();
  const cpu = process.cpuUsage();
  const t0 = nowMs();
  for (let i = 0; i < count; i++) {
    await c.publish(topic, order(i), `k${i % 64}`);
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
  await until(() => latencies.length >= count, `${c.label} paced latency`);
  const elapsed = nowMs() - t0;
  const cpuUsPerMsg = cpuUs(cpu) / count;
  const heapMb = heapUsedMb() - heap;
  await stop();
  return { msgPerSec: (count / elapsed) * 1000, cpuUsPerMsg, ...summarise(latencies), heapMb };
}

function rawKafkajs(validate = false): Contender {
  const kafka = new Kafka({ clientId: 'bench-raw-kafkajs', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const ready = (): Promise<void> => (connected ??= Promise.all([producer.connect(), admin.connect()]).then(() => undefined));
  return {
    label: validate ? 'raw kafkajs + zod' : 'raw kafkajs',
    async createTopic(topic) {
      await ready();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    },
    async publish(topic, value, key) {
      await producer.send({ topic, acks: -1, messages: [{ key, value: JSON.stringify(value), headers: { 'content-type': 'application/json' } }] });
    },
    async consume(topic, groupId, onMessage) {
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let joined!: () => void;
      const isJoined = new Promise<void>((resolve) => (joined = resolve));
      consumer.on(consumer.events.GROUP_JOIN, () => joined());
      // As a real user's consumer: kafkajs' default autoCommit (on), which commits the resolved
      // offsets after each batch (no autoCommitInterval/Threshold set), and JSON parsed per record.
      await consumer.run({
        eachMessage: async ({ message }) => {
          const value = JSON.parse(String(message.value)) as unknown;
          onMessage(validate ? Order.parse(value) : (value as OrderT));
        },
      });
      await isJoined;
      return () => consumer.disconnect();
    },
    async close() {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}

function rawPlatformatic(validate = false): Contender {
  const producer = new PltProducer({ clientId: 'bench-raw-platformatic', bootstrapBrokers: BROKERS, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false });
  const admin = new PltAdmin({ clientId: 'bench-raw-platformatic-admin', bootstrapBrokers: BROKERS });
  return {
    label: validate ? 'raw @platformatic/kafka + zod' : 'raw @platformatic/kafka',
    async createTopic(topic) {
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
      // Wait until the leader is known, as kafkajs' waitForLeaders does.
      for (;;) {
        const md = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
        if (md?.topics.get(topic)?.partitions.every((p) => p.leader >= 0)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async publish(topic, value, key) {
      await producer.send({ messages: [{ topic, key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), headers: new Map([[Buffer.from('content-type'), Buffer.from('application/json')]]) }] });
    },
    async consume(topic, groupId, onMessage) {
      const consumer = new PltConsumer({ clientId: 'bench-raw-platformatic-consumer', groupId, bootstrapBrokers: BROKERS, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTime: 500 });
      let joined!: () => void;
      const isJoined = new Promise<void>((resolve) => (joined = resolve));
      consumer.on('consumer:group:join', () => joined());
      // autocommit: true, the library's default and what its docs show: it commits each fetched
      // batch's end offset once the batch is pushed (before the handler ran: at-most-once, cheaper
      // than contractbus' commits after handling). JSON parsed per record, as a real user would.
      const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: true });
      stream.on('data', (message) => {
        const value = JSON.parse(String(message.value)) as unknown;
        onMessage(validate ? Order.parse(value) : (value as OrderT));
      });
      if (consumer.assignments) joined();
      await isJoined;
      return async () => {
        await stream.close();
        await consumer.close(true);
      };
    },
    async close() {
      await Promise.allSettled([producer.close(), admin.close()]);
    },
  };
}

function contractbus(driver: KafkaDriverName): Contender {
  const client = new KafkaClient({ bootstrapServers: BROKERS, clientId: `bench-contractbus-${driver}`, driver, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 });
  return {
    label: `contractbus (${driver}, validated)`,
    async createTopic(topic) {
      if (!client.connected) await client.connect();
      await client.ensureTopics([topic]);
    },
    async publish(topic, value, key) {
      await client.publish(topic, value, { key });
    },
    async consume(topic, group, onMessage) {
      const subscription = await client.subscribe<OrderT>(topic, (value) => onMessage(value), { group, validate: (p) => Order.parse(p) });
      return () => subscription.close();
    },
    async close() {
      await client.disconnect();
    },
  };
}

function trace(what: string): void {
  if (process.env.BENCH_TRACE) console.error(`bench kafka: ${what}`);
}

/** CPU µs/msg per result row (BenchResult, shared with the other benches, has no field for it). */
export const cpuByRow = new WeakMap<BenchResult, number>();

function median(runs: Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.msgPerSec - b.msgPerSec);
  return sorted[Math.floor(sorted.length / 2)] as Measured;
}

export async function run(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const drivers = (process.env.BENCH_DRIVERS ?? 'kafkajs,platformatic').split(',') as KafkaDriverName[];
  for (const driver of drivers) {
    const raw = driver === 'kafkajs' ? rawKafkajs() : rawPlatformatic();
    const ours = contractbus(driver);
    // BENCH_RAW_ZOD=1: a third contender, the raw driver validating each record with the same zod
    // schema, to show how much of the gap is validation (off by default: it runs every selected phase
    // once more per round; e.g. BENCH_PHASES=produce,consume BENCH_RAW_ZOD=1).
    const rawZod = process.env.BENCH_RAW_ZOD === '1' ? (driver === 'kafkajs' ? rawKafkajs(true) : rawPlatformatic(true)) : undefined;
    const contenders = [['raw', raw], ['ours', ours], ...(rawZod ? [['rawZod', rawZod] as const] : [])] as const;
    const results = new Map<string, Measured[]>();
    const record = (key: string, m: Measured): void => void results.set(key, [...(results.get(key) ?? []), m]);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // The backlog every contender drains this round: the raw producer's, so all read the same
        // bytes (contractbus's own publishes go out in larger record batches, cheaper to read).
        let backlog: string | undefined;
        for (const [name, c] of contenders) {
          if (round === 0) await warmUp(c);
          if (PHASES.has('produce') || PHASES.has('consume')) {
            const produced = await measureProduce(c);
            record(`${name}:produce`, produced.measured);
            trace(`${c.label} produce done`);
            if (name === 'raw') backlog = produced.topic;
            if (PHASES.has('consume')) {
              record(`${name}:consume`, await measureConsume(c, backlog ?? produced.topic));
              trace(`${c.label} consume done`);
            }
          }
          if (PHASES.has('e2e')) {
            record(`${name}:e2e`, await measureEndToEnd(c));
            trace(`${c.label} e2e done`);
          }
          if (PHASES.has('latency')) {
            record(`${name}:latency`, await measureLatency(c));
            trace(`${c.label} latency done`);
          }
        }
        console.error(`bench kafka: ${driver} round ${round + 1}/${ROUNDS} done`);
      }
    } finally {
      await raw.close();
      await ours.close();
      await rawZod?.close();
    }
    for (const phase of ['produce', 'consume', 'e2e', 'latency'] as const) {
      if (!results.has(`raw:${phase}`)) continue;
      const suite = `kafka-${driver} ${phase}`;
      const note = {
        produce: 'p50/p99 = ack latency',
        consume: 'backlog drain',
        e2e: 'saturated; p50/p99 = publish → handler',
        latency: `paced (1 per ${PACE_MS} ms); p50/p99 = publish → handler`,
      }[phase];
      for (const [name, c] of contenders) {
        if (!results.has(`${name}:${phase}`)) continue;
        const baseline = name === 'raw';
        const m = median(results.get(`${name}:${phase}`) ?? []);
        const messages = { produce: MESSAGES, consume: MESSAGES, e2e: Math.max(1_000, Math.floor(MESSAGES / 4)), latency: Number(process.env.BENCH_LATENCY_MESSAGES ?? 500) }[phase];
        const row: BenchResult = { suite, case: c.label, baseline, messages, msgPerSec: m.msgPerSec, p50Ms: m.p50Ms, p99Ms: m.p99Ms, heapMb: m.heapMb, note: `${note}; CPU ${m.cpuUsPerMsg.toFixed(1)} µs/msg; median of ${ROUNDS}` };
        cpuByRow.set(row, m.cpuUsPerMsg);
        rows.push(row);
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await run();
  for (const r of rows) {
    const base = rows.find((b) => b.suite === r.suite && b.baseline);
    const ratio = !r.baseline && base?.msgPerSec ? ` (${((r.msgPerSec ?? 0) / base.msgPerSec).toFixed(2)}× raw)` : '';
    const p = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(2));
    console.log(`${r.suite.padEnd(26)} ${r.case.padEnd(36)} ${String(Math.round(r.msgPerSec ?? 0)).padStart(7)} msg/s${ratio.padEnd(12)} CPU ${p(cpuByRow.get(r)).padStart(6)} µs/msg  p50 ${p(r.p50Ms)} ms  p99 ${p(r.p99Ms)} ms  heap ${p(r.heapMb)} MB`);
  }
}
