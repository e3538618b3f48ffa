/**
 * The runtime's own counters (`broker.getMetrics()`: retries, dead-lettered, dropped, duplicates,
 * in-flight, …) as OpenTelemetry observable instruments, for services that export metrics
 * through OpenTelemetry rather than Prometheus. Read at collection time from the one in-process
 * collector, so nothing is counted twice; the semconv `messaging.*` metrics come from
 * `MessagingInstrumentation`.
 */
import { metrics, type BatchObservableResult, type MeterProvider } from '@opentelemetry/api';
import type { BrokerMetrics, TopicMetrics } from '../core/types.ts';
import { namedBrokers, type BrokerSource } from './brokers.ts';
import { messagingSystemOf } from './semconv.ts';
import { INSTRUMENTATION_SCOPE } from './tracing.ts';

export interface OtelBrokerMetricsOptions {
  brokers: BrokerSource;
  /** Default: the global provider. */
  meterProvider?: MeterProvider;
}

const COUNTERS: ReadonlyArray<[keyof TopicMetrics, string, string]> = [
  ['messagesPublished', 'contractbus.messages.published', 'Messages published and confirmed by the broker.'],
  ['messagesConsumed', 'contractbus.messages.consumed', 'Messages handled successfully.'],
  ['processingErrors', 'contractbus.processing.errors', 'Handler attempts that failed (and malformed or invalid messages).'],
  ['retries', 'contractbus.messages.retried', 'Retries scheduled after a failed handler attempt.'],
  ['deadLettered', 'contractbus.messages.dead_lettered', 'Messages moved to a dead-letter topic.'],
  ['duplicatesDropped', 'contractbus.messages.duplicates_dropped', 'Deliveries dropped as duplicates by the idempotency store.'],
  ['expiredDropped', 'contractbus.messages.expired_dropped', 'Messages dropped because their TTL had passed.'],
  ['dropped', 'contractbus.messages.dropped', 'Messages that failed for good with dead-lettering off (lost).'],
];

/** Registers the observable instruments; returns a function that unregisters their callbacks. */
export function registerOtelBrokerMetrics(options: OtelBrokerMetricsOptions): () => void {
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
  const brokers = namedBrokers(options.brokers);
  const snapshot = (): Array<[string, string, BrokerMetrics]> => brokers.map(([name, broker]) => [name, messagingSystemOf(broker.name), broker.getMetrics()]);

  const counters = COUNTERS.map(([field, name, description]) => [field, meter.createObservableCounter(name, { description, unit: '{message}' })] as const);
  const connectionErrors = meter.createObservableCounter('contractbus.connection.errors', { description: 'Connection failures, publish timeouts and failed settlements.', unit: '{error}' });
  const inFlight = meter.createObservableUpDownCounter('contractbus.handlers.in_flight', { description: 'Handlers running now.', unit: '{handler}' });

  const batch = (result: BatchObservableResult): void => {
    for (const [client, system, snap] of snapshot()) {
      const base = { 'contractbus.client': client, 'messaging.system': system };
      for (const [field, counter] of counters) {
        for (const [topic, perTopic] of Object.entries(snap.byTopic)) result.observe(counter, perTopic[field], { ...base, 'messaging.destination.name': topic });
      }
      result.observe(connectionErrors, snap.connectionErrors, base);
      result.observe(inFlight, snap.inFlight, base);
    }
  };
  const instruments = [...counters.map(([, counter]) => counter), connectionErrors, inFlight];
  meter.addBatchObservableCallback(batch, instruments);
  return () => meter.removeBatchObservableCallback(batch, instruments);
}
