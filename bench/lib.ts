/**
 * Shared benchmark plumbing. Benchmarks are not tests: `npm run bench` runs them and reports
 * throughput, p50/p99 latency and memory as ratios against the raw client measured in the same run.
 */

import { z } from 'zod';

export interface BenchResult {
  /** e.g. 'redis-pubsub', 'rabbitmq', 'kafka-kafkajs', 'generator' */
  suite: string;
  /** e.g. 'raw ioredis' or 'contractbus (validated)' */
  case: string;
  /** true for the raw-client baseline of the suite that other cases are compared with */
  baseline?: boolean;
  messages?: number;
  msgPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** heap used growth (MB) during the case */
  heapMb?: number;
  /** for non-throughput benches, e.g. generation time */
  ms?: number;
  note?: string;
}

export function percentile(sortedAscending: number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const index = Math.min(sortedAscending.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAscending.length) - 1));
  return sortedAscending[index] as number;
}

/** Latency summary from a list of per-message latencies in ms (the array is sorted in place). */
export function summarise(latenciesMs: number[]): { p50Ms: number; p99Ms: number } {
  latenciesMs.sort((a, b) => a - b);
  return { p50Ms: percentile(latenciesMs, 50), p99Ms: percentile(latenciesMs, 99) };
}

export function heapUsedMb(): number {
  return process.memoryUsage().heapUsed / (1024 * 1024);
}

/** A monotonic clock in ms with sub-ms resolution. */
export function nowMs(): number {
  return performance.now();
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/** The message every binding benchmark sends: a small order, validated with zod on consume. */
export const Order = z.object({
  orderId: z.string(),
  customerId: z.string(),
  status: z.enum(['created', 'paid', 'shipped']),
  total: z.number().nonnegative(),
  currency: z.string().length(3),
  items: z.number().int(),
  sentAt: z.number(),
});
export type OrderT = z.infer<typeof Order>;

export function order(i: number): OrderT {
  return { orderId: `o-${i}`, customerId: `c-${i % 97}`, status: 'paid', total: 12.5 + i, currency: 'EUR', items: 3, sentAt: nowMs() };
}

export interface Measured {
  msgPerSec: number;
  /** Process CPU (user + system) per message, µs, publish and consume together: steadier than wall clock on a busy machine. */
  cpuUsPerMsg: number;
  p50Ms: number;
  p99Ms: number;
  heapMb: number;
}

/**
 * Publishes `messages` with at most `window` publishes in flight and resolves once `received()`
 * reaches `messages` (end-to-end throughput; latencies are filled in by the consumer).
 */
export async function drive(
  publish: (i: number) => Promise<unknown>,
  received: () => number,
  latencies: number[],
  { messages, window }: { messages: number; window: number },
): Promise<Measured> {
  const heapBefore = heapUsedMb();
  const cpuBefore = process.cpuUsage();
  const started = nowMs();
  let next = 0;
  const lanes = Array.from({ length: window }, async () => {
    while (next < messages) {
      const i = next++;
      await publish(i);
    }
  });
  await Promise.all(lanes);
  const deadline = Date.now() + 60_000;
  while (received() < messages) {
    if (Date.now() > deadline) throw new Error(`only ${received()} of ${messages} messages arrived within 60 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const elapsed = nowMs() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { msgPerSec: (messages / elapsed) * 1000, cpuUsPerMsg: (cpu.user + cpu.system) / messages, ...summarise(latencies), heapMb: heapUsedMb() - heapBefore };
}

/** Calls `publish(0 … count-1)` with at most `window` calls in flight; each call's round trip goes to `latencies`. */
export async function publishWindowed(count: number, window: number, publish: (i: number) => Promise<unknown>, latencies?: number[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = nowMs();
        await publish(i);
        latencies?.push(nowMs() - t0);
      }
    }),
  );
}

/** Publishes alone (nobody consumes): `messages` with `window` in flight; latency is each publish call's round trip. */
export async function publishOnly(publish: (i: number) => Promise<unknown>, { messages, window }: { messages: number; window: number }): Promise<Measured> {
  const latencies: number[] = [];
  const heapBefore = heapUsedMb();
  const cpuBefore = process.cpuUsage();
  const started = nowMs();
  await publishWindowed(messages, window, publish, latencies);
  const elapsed = nowMs() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { msgPerSec: (messages / elapsed) * 1000, cpuUsPerMsg: (cpu.user + cpu.system) / messages, ...summarise(latencies), heapMb: heapUsedMb() - heapBefore };
}

/**
 * Drains a backlog written beforehand: resolves once `received()` reaches `messages`, with the
 * throughput from the call (start it just before the consumer) to the last message handled.
 */
export async function drainBacklog(received: () => number, messages: number): Promise<Measured> {
  const heapBefore = heapUsedMb();
  const cpuBefore = process.cpuUsage();
  const started = nowMs();
  const deadline = Date.now() + 120_000;
  while (received() < messages) {
    if (Date.now() > deadline) throw new Error(`only ${received()} of ${messages} backlog messages handled within 120 s`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = nowMs() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { msgPerSec: (messages / elapsed) * 1000, cpuUsPerMsg: (cpu.user + cpu.system) / messages, p50Ms: Number.NaN, p99Ms: Number.NaN, heapMb: heapUsedMb() - heapBefore };
}
