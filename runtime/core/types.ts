import type { CircuitBreakerOptions, MessageCircuitBreaker } from '../reliability/circuit-breaker.ts';
import type { IdempotencyStore } from '../reliability/idempotency.ts';

/**
 * The public shape of contractbus: a broker publishes and subscribes; a handler gets a decoded
 * message and its metadata. Small on purpose (see STYLE.md, Watermill's pubsub.go).
 */

/** String headers, as every broker can carry them (Kafka/AMQP natively, Redis in an envelope or fields). */
export type Headers = Record<string, string>;

/** Which delivery guarantees and native features a binding gives. The conformance suite reads these. */
export interface BrokerCapabilities {
  /** What a subscriber can rely on when the process or broker fails. */
  readonly deliveryGuarantee: 'at-most-once' | 'at-least-once';
  /** Messages published while no subscriber of a group is attached are kept for it. */
  readonly durable: boolean;
  /** Competing consumers within a named group, fan-out across groups. */
  readonly consumerGroups: boolean;
  /** `subscribe` accepts wildcard topics: `*` one segment, `#` zero or more (dot-separated). */
  readonly patternSubscribe: boolean;
  /** Order is kept for messages with the same `key` (within a group, with concurrency > 1 too). */
  readonly orderingByKey: boolean;
  /** Headers travel as native broker headers rather than in an envelope. */
  readonly nativeHeaders: boolean;
  /** The broker itself expires messages past their TTL. */
  readonly nativeTtl: boolean;
  /** The broker delivers higher-priority messages first. */
  readonly nativePriority: boolean;
  /** The broker itself routes rejected messages to a dead-letter destination. */
  readonly nativeDeadLetter: boolean;
  /** `nack({ requeue: true, delayMs })` is honoured by the broker without holding the message in process. */
  readonly delayedRedelivery: boolean;
  /** A consumer that dies without acking gets its messages redelivered to another consumer. */
  readonly redeliveryOnCrash: boolean;
  /**
   * A new group with `startFrom: 'earliest'` reads messages published before it existed (a log:
   * Kafka, Redis Streams, memory). Not RabbitMQ classic/quorum queues: a group's queue keeps
   * messages only from when it was declared. Optional; absent means false.
   */
  readonly retainsHistory?: boolean;
}

export interface PublishOptions {
  /** Defaults to a random UUID. Also the idempotency key on the consumer side. */
  messageId?: string;
  correlationId?: string;
  headers?: Headers;
  /** Partition / ordering key (Kafka key; used for ordering by every binding that declares `orderingByKey`). */
  key?: string;
  /** 0 (lowest) – 9 (highest). Native where the binding declares `nativePriority`. */
  priority?: number;
  /** Time to live in seconds; an expired message never reaches a handler. */
  ttl?: number;
  /** Defaults to `application/json`. */
  contentType?: string;
  /** Round-trip timeout for this publish (broker confirm / ack), in ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PublishReceipt {
  messageId: string;
  topic: string;
  /** Kafka partition and offset, Redis stream entry id, … when the broker reports one. */
  partition?: number;
  offset?: string;
}

export interface NackOptions {
  /** true: deliver again (after `delayMs` if given); false: dead-letter / drop per policy. */
  requeue?: boolean;
  delayMs?: number;
  reason?: string;
}

export interface MessageMetadata {
  readonly messageId: string;
  readonly correlationId: string | undefined;
  readonly headers: Readonly<Headers>;
  /** The concrete topic the message was published to (useful with pattern subscriptions). */
  readonly topic: string;
  readonly key: string | undefined;
  /** When the message was published. */
  readonly timestamp: Date;
  /** 1 on first delivery; counts redeliveries and in-process retries. */
  readonly attempt: number;
  readonly redelivered: boolean;
  /** Manual mode only (`autoAck: false`); idempotent; ack and nack are mutually exclusive. */
  ack(): Promise<void>;
  nack(options?: NackOptions): Promise<void>;
}

export type MessageHandler<T = unknown> = (message: T, metadata: MessageMetadata) => Promise<void> | void;

/** Turns an untrusted decoded payload into a typed one, or throws a `ValidationError`. */
export type PayloadValidator<T> = (payload: unknown) => T;

export interface RetryOptions {
  /** Retries after the first attempt; 0 disables retrying. Default 3. */
  maxRetries?: number;
  /** First delay in ms (alias of `initialDelay`). Default 200. */
  retryDelay?: number;
  initialDelay?: number;
  /** Multiplier per attempt. Default 2. */
  backoffFactor?: number;
  /** Upper bound of one delay in ms. Default 30 000. */
  maxDelay?: number;
  /** Random spread in [0, 1] applied to each delay. Default 0.2. */
  jitter?: number;
  /** Which errors are retried: error classes or a predicate. Default: all but `NonRetryableError`. */
  retryOn?: Array<abstract new (...args: never[]) => Error> | ((error: unknown) => boolean);
}

export interface SubscribeOptions<T = unknown> extends RetryOptions {
  /**
   * Consumer group: subscribers in one group compete, distinct groups each get every message.
   * Default: one group per subscription (fan-out).
   */
  group?: string;
  /** true (default): ack when the handler resolves. false: the handler calls `metadata.ack()`. */
  autoAck?: boolean;
  /** Handlers in flight at once for this subscription. Default 1. */
  concurrency?: number;
  /** Unacked deliveries the broker may push ahead of the handlers. Default max(concurrency * 2, 10). */
  prefetch?: number;
  /** Dead-letter topic. Default `<topic><dlqSuffix>`. */
  deadLetterTopic?: string;
  /**
   * Default true. false: a message that fails for good (retries exhausted, non-retryable, poison,
   * invalid) is acked and DROPPED, counted in the `dropped` metric and logged at warn level.
   */
  enableDlq?: boolean;
  dlqSuffix?: string;
  /** Validates (and types) each decoded payload; failures go straight to the dead-letter topic. */
  validate?: PayloadValidator<T>;
  /** Where a new group starts. Default 'earliest' for durable bindings. */
  startFrom?: 'earliest' | 'latest';
  /**
   * A handler still running after this many ms counts as failed (retried, then dead-lettered).
   * JavaScript cannot cancel it: it keeps running and its late result is ignored. Default: none.
   */
  handlerTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Require the broker to keep per-key order (`capabilities.orderingByKey`). Without it the
   * runtime still never runs two handlers for one key at once within this subscription.
   */
  orderByKey?: boolean;
  /**
   * Allow features the binding lacks (`group`, pattern topics, `orderByKey`) to be emulated in
   * process, with weaker guarantees, instead of failing with a `CapabilityError`.
   */
  emulate?: boolean;
  /**
   * Guards the handler: after `failureThreshold` consecutive failures the subscription pauses
   * (no retries burnt, nothing dead-lettered) until `recoveryTimeout`, then lets a trial through.
   */
  circuitBreaker?: MessageCircuitBreaker | CircuitBreakerOptions;
  /**
   * Hand the handler the body as received (`Uint8Array`), without decoding: for binary payloads,
   * bridges, and reading dead letters that are not JSON. Default false.
   */
  raw?: boolean;
  /** Overrides the client's idempotency store for this subscription; `false` turns it off. */
  idempotencyStore?: IdempotencyStore | false;
  /** How long a handled message id is remembered. Default: the client's (24 h). */
  idempotencyTtlMs?: number;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string | undefined;
  /** Stops taking messages, waits for in-flight handlers (up to `timeoutMs`), then detaches. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface HealthStatus {
  isHealthy: boolean;
  issues: string[];
  details: Record<string, unknown>;
}

export interface TopicMetrics {
  messagesPublished: number;
  messagesConsumed: number;
  processingErrors: number;
  retries: number;
  deadLettered: number;
  duplicatesDropped: number;
  expiredDropped: number;
  /** Failed for good with `enableDlq: false`: acked without a dead-letter copy (lost). */
  dropped: number;
}

/** Latency distribution in ms. Percentiles come from fixed log buckets (at most ~10 % high). */
export interface LatencySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface BrokerMetrics extends TopicMetrics {
  connectionErrors: number;
  inFlight: number;
  byTopic: Record<string, TopicMetrics>;
  /** Publish round trip (encode to broker confirm). */
  publishLatencyMs: LatencySummary;
  /** Successful handler runs (last attempt). */
  handlerDurationMs: LatencySummary;
}

export interface MessageBroker extends AsyncDisposable {
  /** 'memory', 'redis-pubsub', 'redis-streams', 'rabbitmq', 'kafka', … */
  readonly name: string;
  readonly capabilities: BrokerCapabilities;
  connect(): Promise<void>;
  /** Graceful: stops subscriptions, drains in-flight handlers (up to `timeoutMs`), then closes. */
  disconnect(options?: { timeoutMs?: number }): Promise<void>;
  publish(topic: string, message: unknown, options?: PublishOptions): Promise<PublishReceipt>;
  subscribe<T = unknown>(topic: string, handler: MessageHandler<T>, options?: SubscribeOptions<T>): Promise<Subscription>;
  /** Publishes `message` to its dead-letter topic with `reason` and the reliability headers. */
  sendToDlq(message: DeadLetterInput, reason: string): Promise<void>;
  getMetrics(): BrokerMetrics;
  healthCheck(): Promise<HealthStatus>;
}

/** What `sendToDlq` needs: the payload and where it came from. */
export interface DeadLetterInput {
  topic: string;
  payload: unknown;
  messageId?: string;
  headers?: Headers;
  deadLetterTopic?: string;
  attempts?: number;
  error?: unknown;
}
