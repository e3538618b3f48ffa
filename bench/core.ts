/**
 * Micro-benchmark of the shared runtime alone: `BrokerClient` over an in-process no-op transport
 * (publish: send resolves at once; consume: deliveries are pushed straight into the pipeline) and
 * over the memory broker. Reports process CPU µs per message, so the figure is the runtime's own
 * cost, free of any broker client. Cases run interleaved for ROUNDS rounds; each figure is the median.
 * Run: node --conditions=development bench/core.ts   (BENCH_MESSAGES, BENCH_ROUNDS)
 */
import type { BenchResult } from './lib.ts';
import { Order, order, type OrderT } from './lib.ts';
import { BrokerClient } from '../runtime/core/client.ts';
import { MemoryBroker } from '../runtime/bindings/memory/index.ts';
import { MEMORY_CAPABILITIES } from '../runtime/bindings/memory/transport.ts';
import type { Delivery, Transport, WireMessage } from '../runtime/core/transport.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW = 100;

const done = Promise.resolve({});
const settled = Promise.resolve();

/** Accepts every send at once and hands consumed deliveries to whoever drives it. */
class NoopTransport implements Transport {
  readonly name = 'noop';
  readonly capabilities = MEMORY_CAPABILITIES;
  onDelivery: ((delivery: Delivery) => Promise<void>) | undefined;
  connect(): Promise<void> {
    return settled;
  }
  close(): Promise<void> {
    return settled;
  }
  send(): Promise<{ partition?: number; offset?: string }> {
    return done;
  }
  async consume(_spec: unknown, onDelivery: (delivery: Delivery) => Promise<void>) {
    this.onDelivery = onDelivery;
    return { pause: async () => {}, resume: async () => {}, close: async () => {} };
  }
  async health() {
    return { isHealthy: true, issues: [], details: {} };
  }
}

interface Measured {
  cpuUsPerMsg: number;
  msgPerSec: number;
}

function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function windowed(publish: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < MESSAGES) await publish(next++);
    }),
  );
}

async function measure(work: () => Promise<void>): Promise<Measured> {
  const cpu = cpuNow();
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  return { cpuUsPerMsg: (cpuNow() - cpu) / MESSAGES, msgPerSec: (MESSAGES / elapsed) * 1000 };
}

async function noopPublish(): Promise<Measured> {
  const client = new BrokerClient(new NoopTransport());
  await client.connect();
  const result = await measure(() => windowed((i) => client.publish('bench.core', order(i))));
  await client.disconnect();
  return result;
}

async function noopConsume(): Promise<Measured> {
  const transport = new NoopTransport();
  const client = new BrokerClient(transport);
  await client.connect();
  let handled = 0;
  const subscription = await client.subscribe<OrderT>('bench.core', () => void handled++, { validate: (p) => Order.parse(p), concurrency: WINDOW });
  const onDelivery = transport.onDelivery as (delivery: Delivery) => Promise<void>;
  // Bodies encoded up front: the case measures the consume pipeline, not JSON.stringify.
  const encoder = new TextEncoder();
  const bodies = Array.from({ length: 256 }, (_, i) => encoder.encode(JSON.stringify(order(i))));
  const result = await measure(() =>
    windowed((i) => {
      const message: WireMessage = { messageId: `m-${i}`, topic: 'bench.core', body: bodies[i & 255] as Uint8Array, headers: {}, contentType: 'application/json', timestamp: Date.now() };
      return onDelivery({ message, deliveryCount: 1, ack: () => settled, nack: () => settled });
    }),
  );
  if (handled !== MESSAGES) throw new Error(`handled ${handled} of ${MESSAGES}`);
  await subscription.close();
  await client.disconnect();
  return result;
}

async function memoryEndToEnd(): Promise<Measured> {
  const broker = new MemoryBroker();
  await broker.connect();
  let handled = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await broker.subscribe<OrderT>(
    'bench.core.memory',
    () => {
      if (++handled === MESSAGES) finish();
    },
    { validate: (p) => Order.parse(p), concurrency: WINDOW, prefetch: WINDOW * 2 },
  );
  const result = await measure(async () => {
    await windowed((i) => broker.publish('bench.core.memory', order(i)));
    await finished;
  });
  await broker.disconnect();
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export async function run(): Promise<BenchResult[]> {
  const cases = [
    { name: 'publish, no-op transport', once: noopPublish },
    { name: 'consume (zod), no-op transport', once: noopConsume },
    { name: 'publish + consume (zod), memory broker', once: memoryEndToEnd },
  ];
  for (const c of cases) await c.once();
  const measured = cases.map(() => [] as Measured[]);
  for (let round = 0; round < ROUNDS; round++) for (const [i, c] of cases.entries()) measured[i]?.push(await c.once());
  return cases.map((c, i) => {
    const runs = measured[i] ?? [];
    const cpu = median(runs.map((m) => m.cpuUsPerMsg));
    return {
      suite: 'core',
      case: c.name,
      messages: MESSAGES,
      msgPerSec: Math.round(median(runs.map((m) => m.msgPerSec))),
      note: `cpu ${cpu.toFixed(2)} µs/msg; median of ${ROUNDS} interleaved rounds; window ${WINDOW}; all ${runs.map((m) => m.cpuUsPerMsg.toFixed(2)).join(' ')}`,
    };
  });
}

if (import.meta.main) {
  const rows = await run();
  console.table(rows.map((r) => ({ case: r.case, 'msg/s': r.msgPerSec, note: r.note })));
}
