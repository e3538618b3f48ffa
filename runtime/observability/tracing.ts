/**
 * Tracing and OpenTelemetry metrics of message flow, through `@opentelemetry/api` only: without an
 * SDK installed by the application every call below is the API's no-op. A producer span injects
 * W3C trace context into the message headers; the consumer span takes its parent from them, so a
 * trace crosses the broker. Names and attributes follow the OpenTelemetry messaging conventions.
 */
import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  createNoopMeter,
  SpanKind,
  SpanStatusCode,
  context,
  metrics,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type MeterProvider,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { MessagingHooks, ProcessHookInfo, PublishHookInfo } from '../core/hooks.ts';
import type { Headers } from '../core/types.ts';
import { redactError, redactString } from './redact.ts';
import { ATTR, DURATION_BUCKETS_S, METRIC, errorTypeOf, messagingSystemOf, type OperationType } from './semconv.ts';

export const INSTRUMENTATION_SCOPE = 'contractbus';

export interface MessagingInstrumentationOptions {
  /** The binding name ('redis-streams', 'rabbitmq', 'kafka', 'memory'); gives `messaging.system`. */
  broker: string;
  /** Overrides the `messaging.system` derived from `broker`. */
  system?: string;
  /** Default: the global provider (`trace.getTracerProvider()`), a no-op until the app registers one. */
  tracerProvider?: TracerProvider;
  /** Default: the global provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Default: the global propagator (`propagation`), a no-op until the app registers one. */
  propagator?: TextMapPropagator;
}

/** What a producer span records besides the topic (the fields `BrokerClient` passes). */
export type PublishSpanInfo = PublishHookInfo;

/** What a consumer span records besides the topic; partition and offset where the binding knows them. */
export interface ProcessSpanInfo extends ProcessHookInfo {
  partition?: number;
  offset?: string;
}

export type SettleOperation = 'ack' | 'nack' | 'dead_letter';

export interface SettleSpanInfo {
  messageId?: string;
  group?: string;
  subscription?: string;
}

/** The seam `BrokerClient` calls (runtime/core/hooks.ts); `MessagingInstrumentation` implements it. */
export type { MessagingHooks };

const headerSetter: TextMapSetter<Headers> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/** Header names are case-insensitive on some brokers and proxies (AMQP, HTTP bridges). */
const headerGetter: TextMapGetter<Readonly<Headers>> = {
  keys(carrier) {
    return Object.keys(carrier);
  },
  get(carrier, key) {
    if (Object.hasOwn(carrier, key)) return carrier[key];
    const lower = key.toLowerCase();
    for (const name of Object.keys(carrier)) if (name.toLowerCase() === lower) return carrier[name];
    return undefined;
  },
};

/** What the global proxy delegates to until an SDK registers a tracer provider. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_METER_TYPE = createNoopMeter().constructor;

export class MessagingInstrumentation implements MessagingHooks {
  readonly system: string;
  readonly #tracer: Tracer;
  /**
   * The global proxy the tracer came from, when no provider was passed: while it has no delegate,
   * no propagator is registered and the meter is the no-op one, a span would be a no-op, so none is
   * made (the per-message cost of default-on tracing without an SDK). Read per message, so an SDK
   * registered after connect takes effect at once.
   */
  readonly #globalProxy: ProxyTracerProvider | undefined;
  readonly #metricsLive: boolean;
  readonly #propagator: TextMapPropagator | undefined;
  readonly #operationDuration: Histogram;
  readonly #processDuration: Histogram;
  readonly #sent: Counter;
  readonly #consumed: Counter;

  constructor(options: MessagingInstrumentationOptions) {
    this.system = options.system ?? messagingSystemOf(options.broker);
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_SCOPE);
    this.#propagator = options.propagator;
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
    // Instruments of the no-op meter stay no-ops even if a meter provider is registered later.
    this.#metricsLive = meter.constructor !== NOOP_METER_TYPE;
    this.#globalProxy = options.tracerProvider === undefined && options.propagator === undefined && tracerProvider instanceof ProxyTracerProvider ? tracerProvider : undefined;
    this.#operationDuration = meter.createHistogram(METRIC.operationDuration, {
      description: 'Duration of messaging operation initiated by a producer or consumer client.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    this.#processDuration = meter.createHistogram(METRIC.processDuration, {
      description: 'Duration of processing operation.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    this.#sent = meter.createCounter(METRIC.sentMessages, { description: 'Number of messages producer attempted to send to the broker.', unit: '{message}' });
    this.#consumed = meter.createCounter(METRIC.consumedMessages, { description: 'Number of messages that were delivered to the application.', unit: '{message}' });
  }

  /**
   * Runs `fn` (the broker round trip) inside a PRODUCER span "send <topic>", after writing the
   * span's trace context into `headers` (mutated: pass the wire headers about to be sent).
   */
  wrapPublish<R>(topic: string, headers: Headers, fn: () => Promise<R>, info: PublishSpanInfo = {}): Promise<R> {
    if (this.#idle()) {
      try {
        return fn();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#tracedPublish(topic, headers, fn, info);
  }

  /** wrapProcess would only call its function, in the context it already runs in: see MessagingHooks. */
  processIsPlain(): boolean {
    return this.#idle() && context.active() === ROOT_CONTEXT;
  }

  /** Nothing would observe a span: no tracer provider, no propagator, no meter behind the global API. */
  #idle(): boolean {
    const proxy = this.#globalProxy;
    return proxy !== undefined && !this.#metricsLive && proxy.getDelegate() === NOOP_TRACER_PROVIDER && propagation.fields().length === 0;
  }

  async #tracedPublish<R>(topic: string, headers: Headers, fn: () => Promise<R>, info: PublishSpanInfo): Promise<R> {
    const metricAttributes: Attributes = {
      [ATTR.messagingSystem]: this.system,
      [ATTR.operationName]: 'send',
      [ATTR.operationType]: 'send',
      [ATTR.destinationName]: topic,
    };
    const spanAttributes: Attributes = { ...metricAttributes };
    if (info.messageId !== undefined) spanAttributes[ATTR.messageId] = info.messageId;
    if (info.correlationId !== undefined) spanAttributes[ATTR.conversationId] = info.correlationId;
    if (info.bodySize !== undefined) spanAttributes[ATTR.bodySize] = info.bodySize;
    if (info.key !== undefined && this.system === 'kafka') spanAttributes[ATTR.kafkaKey] = info.key;
    const parent = context.active();
    const span = this.#tracer.startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes: spanAttributes }, parent);
    const spanContext = trace.setSpan(parent, span);
    this.#inject(spanContext, headers);
    return inSpan(span, spanContext, fn, metricAttributes, this.#operationDuration, this.#sent, (result) => {
      if (span.isRecording()) this.#receiptAttributes(span, result);
    });
  }

  /**
   * Runs `fn` (one handler attempt) inside a CONSUMER span "process <topic>" whose parent is the
   * trace context found in `headers` — never the ambient context, which on an in-process broker
   * is the publisher's. Spans the handler starts become its children.
   */
  wrapProcess<R>(topic: string, headers: Readonly<Headers>, info: ProcessSpanInfo, fn: () => Promise<R> | R): Promise<R> {
    if (this.#idle()) {
      try {
        // Still under the root context, never the ambient one (the publisher's, on an in-process broker).
        return Promise.resolve(context.with(ROOT_CONTEXT, fn));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#tracedProcess(topic, headers, info, fn);
  }

  async #tracedProcess<R>(topic: string, headers: Readonly<Headers>, info: ProcessSpanInfo, fn: () => Promise<R> | R): Promise<R> {
    const metricAttributes: Attributes = {
      [ATTR.messagingSystem]: this.system,
      [ATTR.operationName]: 'process',
      [ATTR.operationType]: 'process',
      // Metrics take the subscribed pattern when there is one: bounded cardinality.
      [ATTR.destinationName]: info.subscription ?? topic,
    };
    if (info.group !== undefined) metricAttributes[ATTR.consumerGroup] = info.group;
    const spanAttributes: Attributes = { ...metricAttributes, [ATTR.destinationName]: topic };
    if (info.subscription !== undefined && info.subscription !== topic) spanAttributes[ATTR.destinationTemplate] = info.subscription;
    if (info.messageId !== undefined) spanAttributes[ATTR.messageId] = info.messageId;
    if (info.correlationId !== undefined) spanAttributes[ATTR.conversationId] = info.correlationId;
    if (info.bodySize !== undefined) spanAttributes[ATTR.bodySize] = info.bodySize;
    if (info.attempt !== undefined) spanAttributes[ATTR.attempt] = info.attempt;
    if (info.partition !== undefined) spanAttributes[ATTR.partitionId] = String(info.partition);
    if (this.system === 'kafka') {
      if (info.key !== undefined) spanAttributes[ATTR.kafkaKey] = info.key;
      if (info.offset !== undefined) spanAttributes[ATTR.kafkaOffset] = Number(info.offset);
    }
    const parent = this.#extract(headers);
    const span = this.#tracer.startSpan(`process ${info.subscription ?? topic}`, { kind: SpanKind.CONSUMER, attributes: spanAttributes }, parent);
    return inSpan(span, trace.setSpan(parent, span), fn, metricAttributes, this.#processDuration, this.#consumed);
  }

  /** A CLIENT span "<ack|nack|dead_letter> <topic>" around settling a delivery (optional; off the hot path by default). */
  async wrapSettle<R>(topic: string, operation: SettleOperation, info: SettleSpanInfo, fn: () => Promise<R>): Promise<R> {
    const metricAttributes: Attributes = {
      [ATTR.messagingSystem]: this.system,
      [ATTR.operationName]: operation,
      [ATTR.operationType]: 'settle' satisfies OperationType,
      [ATTR.destinationName]: info.subscription ?? topic,
    };
    if (info.group !== undefined) metricAttributes[ATTR.consumerGroup] = info.group;
    const spanAttributes: Attributes = { ...metricAttributes, [ATTR.destinationName]: topic };
    if (info.messageId !== undefined) spanAttributes[ATTR.messageId] = info.messageId;
    const parent = context.active();
    const span = this.#tracer.startSpan(`${operation} ${info.subscription ?? topic}`, { kind: SpanKind.CLIENT, attributes: spanAttributes }, parent);
    return inSpan(span, trace.setSpan(parent, span), fn, metricAttributes, this.#operationDuration);
  }

  /** The trace context carried by a message's headers (ROOT_CONTEXT-based), e.g. to link spans by hand. */
  extractContext(headers: Readonly<Headers>): Context {
    return this.#extract(headers);
  }

  #inject(ctx: Context, headers: Headers): void {
    if (this.#propagator) this.#propagator.inject(ctx, headers, headerSetter);
    else propagation.inject(ctx, headers, headerSetter);
  }

  #extract(headers: Readonly<Headers>): Context {
    return this.#propagator ? this.#propagator.extract(ROOT_CONTEXT, headers, headerGetter) : propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  }

  #receiptAttributes(span: Span, result: unknown): void {
    if (result === null || typeof result !== 'object') return;
    const { partition, offset } = result as { partition?: unknown; offset?: unknown };
    if (typeof partition === 'number') span.setAttribute(ATTR.partitionId, String(partition));
    if (typeof offset === 'string' && this.system === 'kafka') span.setAttribute(ATTR.kafkaOffset, Number(offset));
  }
}

/** Error status with the error recorded — redacted: client-library messages quote URLs with passwords. */
function failSpan(span: Span, error: unknown): void {
  span.setAttribute(ATTR.errorType, errorTypeOf(error));
  if (!span.isRecording()) return;
  const safe = redactError(error);
  span.recordException(safe);
  span.setStatus({ code: SpanStatusCode.ERROR, message: redactString(safe.message) });
}

/**
 * Runs `fn` inside `span` (made current through `ctx`): failures mark the span and the metric's
 * error.type; the span ends and the duration (and count) are recorded whatever happens.
 */
async function inSpan<R>(
  span: Span,
  ctx: Context,
  fn: () => Promise<R> | R,
  metricAttributes: Attributes,
  duration: Histogram,
  count?: Counter,
  onResult?: (result: R) => void,
): Promise<R> {
  const started = performance.now();
  try {
    const result = await context.with(ctx, fn);
    onResult?.(result);
    return result;
  } catch (error) {
    failSpan(span, error);
    metricAttributes[ATTR.errorType] = errorTypeOf(error);
    throw error;
  } finally {
    span.end();
    duration.record((performance.now() - started) / 1000, metricAttributes);
    count?.add(1, metricAttributes);
  }
}
