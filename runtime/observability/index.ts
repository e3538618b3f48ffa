// `runtime/observability`: tracing and messaging metrics (OpenTelemetry API), health helpers,
// redaction and a redacting logger, and the health/metrics HTTP handler. The Prometheus exporter
// (prom-client, optional) is imported from './prometheus.ts' directly, or loaded by the handler.
export * from './semconv.ts';
export * from './redact.ts';
export * from './logger.ts';
export * from './health.ts';
export * from './tracing.ts';
export * from './otel-metrics.ts';
export * from './instrument.ts';
export * from './http.ts';
export { loadMessagingHooks } from './hooks.ts';
export { namedBrokers, type BrokerSource } from './brokers.ts';
export type { PrometheusExporter, PrometheusOptions } from './prometheus.ts';
