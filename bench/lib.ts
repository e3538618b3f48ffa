/**
 * Shared benchmark plumbing. Benchmarks are not tests: `npm run bench` runs them and reports
 * throughput, p50/p99 latency and memory as ratios against the raw client measured in the same run.
 */

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
