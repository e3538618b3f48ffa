/**
 * Redis benchmark: raw ioredis against contractbus (payload validated with zod on consume), in one
 * run, for both modes. The baseline is raw ioredis with the connection setting contractbus turns on
 * (auto-pipelining), so the ratio is contractbus's own cost; raw ioredis with its defaults is shown
 * beside it. Each case publishes MESSAGES small JSON messages with a window of WINDOW
 * unconfirmed publishes and one subscriber; throughput is end to end (first publish → last handled),
 * latency is publish-call → handler per message. The `publish` suites publish alone (latency: the
 * publish call's round trip); `redis-streams backlog` drains entries written beforehand (consume
 * alone). Run: node --conditions=development bench/redis.ts (BENCH_SUITES=redis-streams for one
 * mode, BENCH_ROUNDS, BENCH_MESSAGES)
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BenchResult } from './lib.ts';
import { drainBacklog, drive, nowMs, Order, order, publishOnly, uniqueName, type Measured, type OrderT } from './lib.ts';
import { RedisPubSubClient, RedisStreamsClient } from '../runtime/bindings/redis/index.ts';
import type { MessageBroker } from '../runtime/core/types.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WINDOW = 100;
const SHAPE = { messages: MESSAGES, window: WINDOW };




/** Streams written through a client are removed with a connection of their own. */
async function deleteKey(key: string): Promise<void> {
  const admin = new Redis(REDIS_URL);
  await admin.del(key);
  await admin.quit();
}

async function rawPubSub(autoPipelining: boolean): Promise<Measured> {
  const pub = new Redis(REDIS_URL, { enableAutoPipelining: autoPipelining });
  const sub = new Redis(REDIS_URL);
  const channel = uniqueName('bench.raw.pubsub');
  const latencies: number[] = [];
  sub.on('message', (_channel: string, text: string) => {
    const message = JSON.parse(text) as OrderT;
    latencies.push(nowMs() - message.sentAt);
  });
  await sub.subscribe(channel);
  const result = await drive((i) => pub.publish(channel, JSON.stringify(order(i))), () => latencies.length, latencies, SHAPE);
  await Promise.all([pub.quit(), sub.quit()]);
  return result;
}

async function rawStreams(autoPipelining: boolean): Promise<Measured> {
  const pub = new Redis(REDIS_URL, { enableAutoPipelining: autoPipelining });
  const reader = new Redis(REDIS_URL);
  const stream = uniqueName('bench.raw.streams');
  const group = 'bench';
  await pub.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  const latencies: number[] = [];
  let stop = false;
  const consume = (async () => {
    while (!stop) {
      const reply = (await reader.xreadgroup('GROUP', group, 'c1', 'COUNT', WINDOW, 'BLOCK', 200, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          const message = JSON.parse(fields[1] as string) as OrderT;
          latencies.push(nowMs() - message.sentAt);
          void pub.xack(stream, group, id);
        }
      }
    }
  })();
  const result = await drive((i) => pub.xadd(stream, 'MAXLEN', '~', 100_000, '*', 'data', JSON.stringify(order(i))), () => latencies.length, latencies, SHAPE);
  stop = true;
  await consume;
  await pub.del(stream);
  await Promise.all([pub.quit(), reader.quit()]);
  return result;
}

async function contractbus(broker: MessageBroker, mode: 'pubsub' | 'streams'): Promise<Measured> {
  await broker.connect();
  const topic = uniqueName(`bench.contractbus.${mode}`);
  const latencies: number[] = [];
  const validate = (payload: unknown): OrderT => Order.parse(payload);
  const subscription = await broker.subscribe<OrderT>(
    topic,
    (message) => {
      latencies.push(nowMs() - message.sentAt);
    },
    { validate, concurrency: WINDOW, prefetch: WINDOW * 2, group: mode === 'streams' ? 'bench' : undefined, startFrom: 'earliest' },
  );
  const result = await drive((i) => broker.publish(topic, order(i)), () => latencies.length, latencies, SHAPE);
  await subscription.close();
  await broker.disconnect();
  if (mode === 'streams') {
    await deleteKey(topic);
  }
  return result;
}

/**
 * Raw XADD of what a contractbus entry holds (a message id next to the data): separates what the
 * entry's content costs from what the client adds.
 */
async function rawPublishOnlyWithId(): Promise<Measured> {
  const pub = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const key = uniqueName('bench.raw.publish.streams-id');
  const result = await publishOnly((i) => pub.xadd(key, 'MAXLEN', '~', 100_000, '*', 'ce_id', randomUUID(), 'data', JSON.stringify(order(i))), SHAPE);
  await pub.del(key);
  await pub.quit();
  return result;
}

async function rawPublishOnly(mode: 'pubsub' | 'streams'): Promise<Measured> {
  const pub = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const key = uniqueName(`bench.raw.publish.${mode}`);
  const result = await publishOnly((i) => (mode === 'pubsub' ? pub.publish(key, JSON.stringify(order(i))) : pub.xadd(key, 'MAXLEN', '~', 100_000, '*', 'data', JSON.stringify(order(i)))), SHAPE);
  if (mode === 'streams') await pub.del(key);
  await pub.quit();
  return result;
}

async function contractbusPublishOnly(broker: MessageBroker, mode: 'pubsub' | 'streams'): Promise<Measured> {
  await broker.connect();
  const topic = uniqueName(`bench.contractbus.publish.${mode}`);
  const result = await publishOnly((i) => broker.publish(topic, order(i)), SHAPE);
  await broker.disconnect();
  if (mode === 'streams') {
    await deleteKey(topic);
  }
  return result;
}

/** asContractbus: entries hold what contractbus writes (ce_id + data) and the reader takes the id too. */
async function rawBacklog(asContractbus = false): Promise<Measured> {
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const reader = new Redis(REDIS_URL);
  const stream = uniqueName('bench.raw.backlog');
  await Promise.all(
    Array.from({ length: MESSAGES }, (_, i) =>
      asContractbus ? redis.xadd(stream, '*', 'ce_id', randomUUID(), 'data', JSON.stringify(order(i))) : redis.xadd(stream, '*', 'data', JSON.stringify(order(i))),
    ),
  );
  await redis.xgroup('CREATE', stream, 'bench', '0');
  await markDrainStart();
  let handled = 0;
  let stop = false;
  const consume = (async () => {
    while (!stop) {
      const reply = (await reader.xreadgroup('GROUP', 'bench', 'c1', 'COUNT', WINDOW * 2, 'BLOCK', 200, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          if (asContractbus) {
            let messageId: string | undefined;
            let data: string | undefined;
            for (let f = 0; f < fields.length; f += 2) {
              if (fields[f] === 'ce_id') messageId = fields[f + 1];
              else if (fields[f] === 'data') data = fields[f + 1];
            }
            if (messageId === undefined) throw new Error('entry without ce_id');
            JSON.parse(data as string);
          } else JSON.parse(fields[1] as string);
          handled++;
          void redis.xack(stream, 'bench', id);
        }
      }
    }
  })();
  const result = await drainBacklog(() => handled, MESSAGES);
  stop = true;
  await consume;
  await redis.del(stream);
  await Promise.all([redis.quit(), reader.quit()]);
  return result;
}

async function contractbusBacklog(): Promise<Measured> {
  const broker = new RedisStreamsClient({ url: REDIS_URL });
  await broker.connect();
  const topic = uniqueName('bench.contractbus.backlog');
  await Promise.all(Array.from({ length: MESSAGES }, (_, i) => broker.publish(topic, order(i))));
  await markDrainStart();
  let handled = 0;
  const subscription = await broker.subscribe<OrderT>(topic, () => void handled++, { validate: (payload: unknown) => Order.parse(payload), concurrency: WINDOW, prefetch: WINDOW * 2, group: 'bench', startFrom: 'earliest' });
  const result = await drainBacklog(() => handled, MESSAGES);
  await subscription.close();
  await broker.disconnect();
  await deleteKey(topic);
  return result;
}

/**
 * CPU time redis-server has used (user + sys, µs, all its threads): on a small machine the server
 * shares the cores with the client, so its cost per message bounds throughput as much as ours.
 */
async function redisCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/**
 * redis-server CPU when a backlog case starts draining: the server CPU column of the backlog suite
 * covers the drain only, not the fill (contractbus fills through its Lua batch, which costs Redis
 * more per entry than plain XADDs and would be charged to the drain otherwise).
 */
let drainStartServerCpu: number | undefined;
async function markDrainStart(): Promise<void> {
  const admin = new Redis(REDIS_URL);
  try {
    drainStartServerCpu = await redisCpuUs(admin);
  } finally {
    await admin.quit();
  }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** BENCH_SUITES=redis-streams,redis-pubsub: only suites whose name starts with one of these. */
const SUITES = process.env.BENCH_SUITES?.split(',').map((s) => s.trim()).filter(Boolean);

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * The machine is shared and noisy: cases run interleaved (raw, contractbus, raw, …) for ROUNDS
 * rounds, and each figure is the median of its rounds.
 */
export async function run(): Promise<BenchResult[]> {
  const cases: Array<{ suite: string; name: string; baseline: boolean; once: () => Promise<Measured> }> = [
    { suite: 'redis-pubsub', name: 'raw ioredis (auto-pipelining)', baseline: true, once: () => rawPubSub(true) },
    { suite: 'redis-pubsub', name: 'raw ioredis (defaults)', baseline: false, once: () => rawPubSub(false) },
    { suite: 'redis-pubsub', name: 'contractbus (validated)', baseline: false, once: () => contractbus(new RedisPubSubClient({ url: REDIS_URL }), 'pubsub') },
    { suite: 'redis-streams', name: 'raw ioredis (auto-pipelining)', baseline: true, once: () => rawStreams(true) },
    { suite: 'redis-streams', name: 'raw ioredis (defaults)', baseline: false, once: () => rawStreams(false) },
    { suite: 'redis-streams', name: 'contractbus (validated)', baseline: false, once: () => contractbus(new RedisStreamsClient({ url: REDIS_URL }), 'streams') },
    { suite: 'redis-pubsub publish', name: 'raw ioredis PUBLISH (auto-pipelining)', baseline: true, once: () => rawPublishOnly('pubsub') },
    { suite: 'redis-pubsub publish', name: 'contractbus publish', baseline: false, once: () => contractbusPublishOnly(new RedisPubSubClient({ url: REDIS_URL }), 'pubsub') },
    { suite: 'redis-streams publish', name: 'raw ioredis XADD (auto-pipelining)', baseline: true, once: () => rawPublishOnly('streams') },
    { suite: 'redis-streams publish', name: 'raw ioredis XADD ce_id + data (as contractbus)', baseline: false, once: rawPublishOnlyWithId },
    { suite: 'redis-streams publish', name: 'contractbus publish', baseline: false, once: () => contractbusPublishOnly(new RedisStreamsClient({ url: REDIS_URL }), 'streams') },
    { suite: 'redis-streams backlog', name: 'raw ioredis XREADGROUP + XACK', baseline: true, once: () => rawBacklog() },
    { suite: 'redis-streams backlog', name: 'raw ioredis, ce_id + data entries (as contractbus)', baseline: false, once: () => rawBacklog(true) },
    { suite: 'redis-streams backlog', name: 'contractbus subscribe (validated)', baseline: false, once: contractbusBacklog },
  ].filter((c) => SUITES === undefined || SUITES.some((prefix) => c.suite.startsWith(prefix)));
  // Warm-up so JIT and connections do not bias the first case.
  for (const c of cases) await c.once();
  const measured = cases.map(() => [] as Measured[]);
  const serverCpu = cases.map(() => [] as number[]);
  const admin = new Redis(REDIS_URL);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        drainStartServerCpu = undefined;
        const before = await redisCpuUs(admin);
        measured[i]?.push(await c.once());
        serverCpu[i]?.push((await redisCpuUs(admin)) - (drainStartServerCpu ?? before));
      }
    }
  } finally {
    await admin.quit();
  }
  return cases.map((c, i) => {
    const runs = measured[i] ?? [];
    return {
      suite: c.suite,
      case: c.name,
      baseline: c.baseline,
      messages: MESSAGES,
      msgPerSec: Math.round(median(runs.map((m) => m.msgPerSec))),
      p50Ms: median(runs.map((m) => m.p50Ms)),
      p99Ms: median(runs.map((m) => m.p99Ms)),
      heapMb: median(runs.map((m) => m.heapMb)),
      note: `cpu ${median(runs.map((m) => m.cpuUsPerMsg)).toFixed(1)} µs/msg, redis-server ${(median(serverCpu[i] ?? []) / MESSAGES).toFixed(1)} µs/msg; median of ${ROUNDS} interleaved rounds; window ${WINDOW}`,
    };
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
      note: r.note?.split(';')[0],
    })),
  );
}
