/**
 * Prometheus exposition of `broker.getMetrics()` through prom-client (an optional peer dependency:
 * only this module imports it). Values are read at scrape time by collect callbacks from the one
 * in-process collector, never counted a second time.
 */
import { Counter, Gauge, Registry, Summary, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { BrokerMetrics, LatencySummary, TopicMetrics } from '../core/types.ts';
import { namedBrokers, type BrokerSource } from './brokers.ts';

export interface PrometheusOptions {
  brokers: BrokerSource;
  /** Registry to add the metrics to (e.g. prom-client's global `register`). Default: a new one. */
  registry?: Registry;
  /** Metric name prefix. Default 'contractbus_'. */
  prefix?: string;
}

export interface PrometheusExporter {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text (what `/metrics` serves). */
  metrics(): Promise<string>;
}

const TOPIC_COUNTERS: ReadonlyArray<[keyof TopicMetrics, string, string]> = [
  ['messagesPublished', 'messages_published_total', 'Messages published and confirmed by the broker.'],
  ['messagesConsumed', 'messages_consumed_total', 'Messages handled successfully.'],
  ['processingErrors', 'processing_errors_total', 'Handler attempts that failed (and malformed or invalid messages).'],
  ['retries', 'retries_total', 'Retries scheduled after a failed handler attempt.'],
  ['deadLettered', 'dead_lettered_total', 'Messages moved to a dead-letter topic.'],
  ['duplicatesDropped', 'duplicates_dropped_total', 'Deliveries dropped as duplicates by the idempotency store.'],
  ['expiredDropped', 'expired_dropped_total', 'Messages dropped because their TTL had passed.'],
  ['dropped', 'dropped_total', 'Messages that failed for good with dead-lettering off (lost).'],
];

const QUANTILES: ReadonlyArray<[number, keyof LatencySummary]> = [
  [0.5, 'p50'],
  [0.9, 'p90'],
  [0.99, 'p99'],
];

/** Registers the broker metrics on a registry; scrape it with `metrics()`. */
export function createPrometheusExporter(options: PrometheusOptions): PrometheusExporter {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'contractbus_';
  const brokers = namedBrokers(options.brokers);

  // One snapshot per broker per scrape: the registry collects every metric in the same tick.
  let cache: Array<[string, BrokerMetrics]> | undefined;
  const snapshots = (): Array<[string, BrokerMetrics]> => {
    if (cache === undefined) {
      cache = brokers.map(([name, broker]) => [name, broker.getMetrics()]);
      setImmediate(() => (cache = undefined));
    }
    return cache;
  };

  for (const [field, name, help] of TOPIC_COUNTERS) {
    new Counter({
      name: prefix + name,
      help,
      labelNames: ['broker', 'topic'],
      registers: [registry],
      collect() {
        // The source counters are monotonic: re-setting the absolute value keeps counter semantics.
        this.reset();
        for (const [broker, metrics] of snapshots()) {
          for (const [topic, perTopic] of Object.entries(metrics.byTopic)) this.inc({ broker, topic }, perTopic[field]);
        }
      },
    });
  }
  new Counter({
    name: `${prefix}connection_errors_total`,
    help: 'Connection failures, publish timeouts and failed settlements seen by the client.',
    labelNames: ['broker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [broker, metrics] of snapshots()) this.inc({ broker }, metrics.connectionErrors);
    },
  });
  new Gauge({
    name: `${prefix}in_flight`,
    help: 'Handlers running now.',
    labelNames: ['broker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [broker, metrics] of snapshots()) this.set({ broker }, metrics.inFlight);
    },
  });
  registry.registerMetric(
    new LatencySummaryMetric(`${prefix}publish_duration_seconds`, 'Publish round trip, encode to broker confirm, since start.', () =>
      snapshots().map(([broker, metrics]) => [broker, metrics.publishLatencyMs]),
    ),
  );
  registry.registerMetric(
    new LatencySummaryMetric(`${prefix}handler_duration_seconds`, 'Successful handler runs, since start.', () =>
      snapshots().map(([broker, metrics]) => [broker, metrics.handlerDurationMs]),
    ),
  );

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    metrics: () => registry.metrics(),
  };
}

/**
 * A Prometheus summary whose quantiles come precomputed from the runtime's latency histogram
 * (prom-client's own Summary only computes them from observations it made itself).
 */
class LatencySummaryMetric extends Summary<'broker' | 'quantile'> {
  readonly #name: string;
  readonly #read: () => Array<[string, LatencySummary]>;

  constructor(name: string, help: string, read: () => Array<[string, LatencySummary]>) {
    super({ name, help, labelNames: ['broker'], percentiles: QUANTILES.map(([q]) => q), registers: [] });
    this.#name = name;
    this.#read = read;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<'broker' | 'quantile'>>> {
    // The base result carries name, help and type; it has no values since nothing is observed.
    const base = await super.get();
    const values: Array<MetricValueWithName<'broker' | 'quantile'>> = [];
    for (const [broker, summary] of this.#read()) {
      for (const [quantile, field] of QUANTILES) values.push({ labels: { broker, quantile }, value: summary[field] / 1000, metricName: this.#name });
      values.push({ labels: { broker }, value: (summary.mean * summary.count) / 1000, metricName: `${this.#name}_sum` });
      values.push({ labels: { broker }, value: summary.count, metricName: `${this.#name}_count` });
    }
    return { ...base, values };
  }
}
