/**
 * `npm run bench`: runs every benchmark in one process, one after another, and prints throughput,
 * p50/p99 latency and heap growth, each as a ratio against the raw client of its suite measured in
 * the same run. Select suites with arguments: `npm run bench -- redis kafka`.
 * Benchmarks are never part of the test run and assert nothing.
 */
import type { BenchResult } from './lib.ts';

interface Suite {
  name: string;
  file: string;
  /** Export to call; every bench module exports `run(): Promise<BenchResult[]>`. */
  exportName: string;
}

const suites: Suite[] = [
  { name: 'generator', file: './generator.ts', exportName: 'run' },
  { name: 'core', file: './core.ts', exportName: 'run' },
  { name: 'redis', file: './redis.ts', exportName: 'run' },
  { name: 'rabbitmq', file: './rabbitmq.ts', exportName: 'run' },
  { name: 'kafka', file: './kafka.ts', exportName: 'run' },
];

const wanted = process.argv.slice(2);
const selected = wanted.length ? suites.filter((s) => wanted.includes(s.name)) : suites;

const results: BenchResult[] = [];
for (const suite of selected) {
  const started = performance.now();
  try {
    const mod = (await import(suite.file)) as Record<string, unknown>;
    const run = mod[suite.exportName];
    if (typeof run !== 'function') throw new Error(`${suite.file} does not export ${suite.exportName}()`);
    const rows = (await run()) as BenchResult[];
    results.push(...rows);
    console.error(`bench ${suite.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    results.push({ suite: suite.name, case: 'not run', note: message.split('\n')[0] ?? message });
    console.error(`bench ${suite.name}: not run: ${message}`);
  }
}

printTable(results);

function printTable(rows: BenchResult[]): void {
  const fmt = (n: number | undefined, digits = 0): string => (n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits));
  const ratio = (value: number | undefined, base: number | undefined, digits = 2): string =>
    value === undefined || base === undefined || base === 0 ? '' : `${(value / base).toFixed(digits)}×`;
  const header = ['suite', 'case', 'msgs', 'msg/s', 'vs raw', 'p50 ms', 'p99 ms', 'p99 +ms', 'heap MB', 'ms', 'note'];
  const table: string[][] = [header];
  for (const row of rows) {
    const base = rows.find((r) => r.suite === row.suite && r.baseline);
    table.push([
      row.suite,
      row.baseline ? `${row.case} (baseline)` : row.case,
      fmt(row.messages),
      fmt(row.msgPerSec),
      row.baseline ? '' : ratio(row.msgPerSec, base?.msgPerSec),
      fmt(row.p50Ms, 3),
      fmt(row.p99Ms, 3),
      row.baseline || row.p99Ms === undefined || base?.p99Ms === undefined ? '' : (row.p99Ms - base.p99Ms).toFixed(3),
      fmt(row.heapMb, 1),
      fmt(row.ms, 0),
      row.note ?? '',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  for (const r of table) console.log(r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}
