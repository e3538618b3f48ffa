import { describe, expect, it } from 'vitest';
import { LatencyHistogram, MetricsCollector, fanOutRecorder, type MetricsRecorder } from '../../../runtime/core/metrics.ts';

describe('LatencyHistogram', () => {
  it('reads p50/p90/p99 within 10 % from fixed buckets', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.min).toBe(1);
    expect(s.max).toBe(1000);
    expect(s.mean).toBeCloseTo(500.5);
    for (const [q, expected] of [[s.p50, 500], [s.p90, 900], [s.p99, 990]] as const) {
      expect(q).toBeGreaterThanOrEqual(expected);
      expect(q).toBeLessThanOrEqual(expected * 1.1);
    }
  });

  it('is empty-safe, ignores invalid samples and clamps to min/max', () => {
    const h = new LatencyHistogram();
    expect(h.summary()).toEqual({ count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 });
    h.record(Number.NaN);
    h.record(-1);
    h.record(0);
    h.record(3);
    expect(h.count).toBe(2);
    expect(h.quantile(1)).toBe(3);
    h.record(1e9);
    expect(h.quantile(1)).toBe(1e9);
  });
});

describe('MetricsCollector', () => {
  it('counts per topic and in total', () => {
    const m = new MetricsCollector();
    m.published('a', 1);
    m.published('b', 2);
    m.consumed('a', 3);
    m.processingError('a', new Error());
    m.retried('a', 1);
    m.deadLettered('a', 'x');
    m.dropped('b', 'x');
    m.duplicateDropped('a');
    m.expiredDropped('b');
    m.connectionError(new Error());
    m.inFlight(2);
    m.inFlight(-1);
    const s = m.snapshot();
    expect(s).toMatchObject({ messagesPublished: 2, messagesConsumed: 1, processingErrors: 1, retries: 1, deadLettered: 1, dropped: 1, duplicatesDropped: 1, expiredDropped: 1, connectionErrors: 1, inFlight: 1 });
    expect(s.byTopic.a).toMatchObject({ messagesPublished: 1, messagesConsumed: 1, deadLettered: 1 });
    expect(s.byTopic.b).toMatchObject({ messagesPublished: 1, dropped: 1, expiredDropped: 1 });
    expect(s.publishLatencyMs.count).toBe(2);
    // Snapshots are copies.
    s.byTopic.a!.messagesPublished = 99;
    expect(m.snapshot().byTopic.a?.messagesPublished).toBe(1);
  });

  it('bounds per-topic entries: topics past maxTopics are counted under (other)', () => {
    const m = new MetricsCollector({ maxTopics: 2 });
    for (const t of ['a', 'b', 'c', 'd', 'a']) m.published(t, 1);
    const s = m.snapshot();
    expect(Object.keys(s.byTopic).sort()).toEqual(['(other)', 'a', 'b']);
    expect(s.byTopic['(other)']?.messagesPublished).toBe(2);
    expect(s.byTopic.a?.messagesPublished).toBe(2);
  });

  it('fanOutRecorder isolates a throwing recorder', () => {
    const m = new MetricsCollector();
    const errors: unknown[] = [];
    const bad = new Proxy({} as MetricsRecorder, { get: () => () => { throw new Error('exporter down'); } });
    const r = fanOutRecorder([bad, m], (e) => errors.push(e));
    r.published('t', 1);
    expect(m.snapshot().messagesPublished).toBe(1);
    expect(errors).toHaveLength(1);
  });
});
