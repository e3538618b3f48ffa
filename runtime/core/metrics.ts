/**
 * Counters and latency histograms of one broker client. The client reports through the
 * `MetricsRecorder` seam, so OpenTelemetry or Prometheus exporters can listen to the same calls
 * without the hot path knowing about them.
 */
import type { BrokerMetrics, LatencySummary, TopicMetrics } from './types.ts';

export type { LatencySummary };

/** What the runtime reports. Calls are synchronous and must not throw. */
export interface MetricsRecorder {
  published(topic: string, durationMs: number): void;
  publishFailed(topic: string, error: unknown): void;
  /** A handler finished successfully (after any retries). */
  consumed(topic: string, durationMs: number): void;
  /** One handler attempt failed. */
  processingError(topic: string, error: unknown): void;
  retried(topic: string, attempt: number): void;
  deadLettered(topic: string, reason: string): void;
  /** Failed for good with `enableDlq: false`: acked and lost. */
  dropped(topic: string, reason: string): void;
  duplicateDropped(topic: string): void;
  expiredDropped(topic: string): void;
  connectionError(error: unknown): void;
  /** Handlers running now changed by `delta`. */
  inFlight(delta: number): void;
}

/** Bucket bounds grow by 10 %: 1 µs to ~10 min in 212 buckets, fixed memory, O(1) record. */
const GROWTH = 1.1;
const LOWEST_MS = 0.001;
const BUCKETS = 212;
const LOG_GROWTH = Math.log(GROWTH);

/** Fixed-bucket log histogram of durations in ms. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS + 1);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  record(ms: number): void {
    if (!(ms >= 0)) return;
    const index = ms <= LOWEST_MS ? 0 : Math.min(BUCKETS, Math.ceil(Math.log(ms / LOWEST_MS) / LOG_GROWTH));
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** q in [0, 1]; the upper bound of the bucket holding that rank, clamped to [min, max]. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) {
        // The last bucket is open-ended: only max bounds it.
        if (i === BUCKETS) return this.#max;
        const upper = LOWEST_MS * GROWTH ** i;
        return Math.min(this.#max, Math.max(this.#min, upper));
      }
    }
    return this.#max;
  }

  summary(): LatencySummary {
    if (this.#count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
    return {
      count: this.#count,
      min: this.#min,
      max: this.#max,
      mean: this.#sum / this.#count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
    };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = 0;
  }
}

function emptyTopic(): TopicMetrics {
  return { messagesPublished: 0, messagesConsumed: 0, processingErrors: 0, retries: 0, deadLettered: 0, duplicatesDropped: 0, expiredDropped: 0, dropped: 0 };
}

/** Where topics past `maxTopics` are counted (per-entity topics such as `orders.<id>` would grow without bound). */
export const OTHER_TOPICS = '(other)';

/** The in-process recorder behind `getMetrics()`. */
export class MetricsCollector implements MetricsRecorder {
  readonly maxTopics: number;
  readonly #topics = new Map<string, TopicMetrics>();
  readonly #total: TopicMetrics = emptyTopic();
  readonly publishLatency = new LatencyHistogram();
  readonly handlerDuration = new LatencyHistogram();
  #connectionErrors = 0;
  #inFlight = 0;

  constructor(options: { maxTopics?: number } = {}) {
    this.maxTopics = options.maxTopics ?? 1000;
  }

  #topic(topic: string): TopicMetrics {
    let metrics = this.#topics.get(topic);
    if (metrics === undefined) {
      const key = this.#topics.size >= this.maxTopics ? OTHER_TOPICS : topic;
      metrics = this.#topics.get(key);
      if (metrics === undefined) {
        metrics = emptyTopic();
        this.#topics.set(key, metrics);
      }
    }
    return metrics;
  }

  published(topic: string, durationMs: number): void {
    this.#topic(topic).messagesPublished++;
    this.#total.messagesPublished++;
    this.publishLatency.record(durationMs);
  }
  publishFailed(_topic: string, _error: unknown): void {}
  consumed(topic: string, durationMs: number): void {
    this.#topic(topic).messagesConsumed++;
    this.#total.messagesConsumed++;
    this.handlerDuration.record(durationMs);
  }
  processingError(topic: string, _error?: unknown): void {
    this.#topic(topic).processingErrors++;
    this.#total.processingErrors++;
  }
  retried(topic: string, _attempt?: number): void {
    this.#topic(topic).retries++;
    this.#total.retries++;
  }
  deadLettered(topic: string, _reason?: string): void {
    this.#topic(topic).deadLettered++;
    this.#total.deadLettered++;
  }
  dropped(topic: string, _reason?: string): void {
    this.#topic(topic).dropped++;
    this.#total.dropped++;
  }
  duplicateDropped(topic: string): void {
    this.#topic(topic).duplicatesDropped++;
    this.#total.duplicatesDropped++;
  }
  expiredDropped(topic: string): void {
    this.#topic(topic).expiredDropped++;
    this.#total.expiredDropped++;
  }
  connectionError(_error?: unknown): void {
    this.#connectionErrors++;
  }
  inFlight(delta: number): void {
    this.#inFlight += delta;
  }

  get inFlightNow(): number {
    return this.#inFlight;
  }

  snapshot(): BrokerMetrics {
    const byTopic: Record<string, TopicMetrics> = {};
    for (const [topic, metrics] of this.#topics) byTopic[topic] = { ...metrics };
    return {
      ...this.#total,
      connectionErrors: this.#connectionErrors,
      inFlight: this.#inFlight,
      byTopic,
      publishLatencyMs: this.publishLatency.summary(),
      handlerDurationMs: this.handlerDuration.summary(),
    };
  }
}

/** Calls every recorder; a throwing recorder is isolated so metrics never break message flow. */
export function fanOutRecorder(recorders: readonly MetricsRecorder[], onError: (error: unknown) => void): MetricsRecorder {
  const call = <K extends keyof MetricsRecorder>(method: K, args: Parameters<MetricsRecorder[K]>): void => {
    for (const recorder of recorders) {
      try {
        (recorder[method] as (...a: Parameters<MetricsRecorder[K]>) => void)(...args);
      } catch (error) {
        onError(error);
      }
    }
  };
  return {
    published: (...a) => call('published', a),
    publishFailed: (...a) => call('publishFailed', a),
    consumed: (...a) => call('consumed', a),
    processingError: (...a) => call('processingError', a),
    retried: (...a) => call('retried', a),
    deadLettered: (...a) => call('deadLettered', a),
    dropped: (...a) => call('dropped', a),
    duplicateDropped: (...a) => call('duplicateDropped', a),
    expiredDropped: (...a) => call('expiredDropped', a),
    connectionError: (...a) => call('connectionError', a),
    inFlight: (...a) => call('inFlight', a),
  };
}
