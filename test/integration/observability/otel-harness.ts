/**
 * Test-only OpenTelemetry SDK wiring (in-memory exporters). Imported by tests, never by the
 * runtime: the SDK packages are devDependencies.
 */
import { context, propagation, trace, type TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

/** Pull-only reader: tests call `collect()` when they want the numbers. */
export class TestMetricReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  }
}

export interface OtelHarness {
  exporter: InMemorySpanExporter;
  tracerProvider: ApiTracerProvider;
  meterProvider: MeterProvider;
  reader: TestMetricReader;
  propagator: W3CTraceContextPropagator;
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  shutdown(): Promise<void>;
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/** Registers an AsyncLocalStorage context manager globally (spans nest across awaits) and returns private providers. */
export function createOtelHarness(options: { global?: boolean } = {}): OtelHarness {
  if (!contextManager) {
    contextManager = new AsyncLocalStorageContextManager();
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
  }
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const propagator = new W3CTraceContextPropagator();
  if (options.global) {
    trace.setGlobalTracerProvider(tracerProvider);
    propagation.setGlobalPropagator(propagator);
  }
  return {
    exporter,
    tracerProvider,
    meterProvider,
    reader,
    propagator,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span "${name}", got ${found.length}: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
      return found[0]!;
    },
    async shutdown() {
      if (options.global) {
        trace.disable();
        propagation.disable();
      }
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
