/**
 * `BrokerClient`: the `MessageBroker` every binding gets by handing it a `Transport`. Publishing
 * (ids, headers, TTL, priority, encoding, round-trip timeout, circuit breaker, metrics), the
 * consume pipeline (pipeline.ts), dead-lettering, graceful drain, capability checks and health are
 * written here once. Bindings `extends BrokerClient` to add their native extras.
 */
import { randomUUID } from 'node:crypto';
import { JsonCodec, type Codec } from './codec.ts';
import { CapabilityError, ClosedError, ConfigurationError, ConnectionError, TimeoutError } from './errors.ts';
import { HEADER, RESERVED_HEADER_PREFIX } from './headers.ts';
import { silentLogger, type Logger } from './logger.ts';
import { MetricsCollector, fanOutRecorder, type MetricsRecorder } from './metrics.ts';
import { EmulatedGroup } from './emulated-group.ts';
import type { MessagingHooks } from './hooks.ts';
import { loadMessagingHooks } from '../observability/hooks.ts';
import { createRedactingLogger } from '../observability/logger.ts';
import { SubscriptionPipeline, type PipelineHost } from './pipeline.ts';
import { assertTopic, isPatternTopic } from './topic.ts';
import { DeadlineQueue, withTimeout } from './timeout.ts';
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from './transport.ts';
import type {
  BrokerCapabilities,
  BrokerMetrics,
  DeadLetterInput,
  Headers,
  HealthStatus,
  MessageBroker,
  MessageHandler,
  PublishOptions,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
} from './types.ts';
import { MessageCircuitBreaker, type CircuitBreakerOptions } from '../reliability/circuit-breaker.ts';
import { deadLetterHeaders, deadLetterTopicFor, stripDeadLetterHeaders } from '../reliability/dead-letter.ts';
import type { IdempotencyStore } from '../reliability/idempotency.ts';
import { retryPolicy } from '../reliability/retry.ts';
import { expiresAtFromTtl } from '../reliability/ttl.ts';

export interface BrokerClientOptions {
  /** Payload codec. Default JSON (`JsonCodec` with `maxMessageBytes`). */
  codec?: Codec;
  /** Bound of an encoded payload for the default codec. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Round-trip timeout of a publish (broker confirm), and of a health check. Default 10 000 ms. */
  publishTimeoutMs?: number;
  /** Fails publishes fast with `CircuitOpenError` while the broker keeps failing. Default: none. */
  publishCircuitBreaker?: MessageCircuitBreaker | CircuitBreakerOptions;
  /**
   * Deduplicates deliveries by message id for every subscription (override per subscription).
   * An id is claimed while its handler runs (for 60 s, or handlerTimeoutMs + 10 s) and remembered
   * for `idempotencyTtlMs` once handled. A redelivery that finds a claim (its consumer may have
   * crashed) waits up to the claim's lifetime before it is treated as a duplicate.
   */
  idempotencyStore?: IdempotencyStore;
  /** How long a handled message id is remembered. Default 24 h. */
  idempotencyTtlMs?: number;
  /** How long `close()` / `disconnect()` wait for in-flight handlers by default. Default 30 000 ms. */
  drainTimeoutMs?: number;
  /** pino-compatible. Default silent. */
  logger?: Logger;
  /**
   * Tracing around publishes and handler attempts. Default: `MessagingInstrumentation` on the
   * global OpenTelemetry API when `@opentelemetry/api` is installed (a no-op until the app installs
   * an SDK), none otherwise. false: none. Or own hooks (e.g. on private providers).
   */
  hooks?: MessagingHooks | false;
  /** Extra metric listeners (OpenTelemetry, Prometheus, …); `getMetrics()` works without them. */
  metricsRecorder?: MetricsRecorder | MetricsRecorder[];
  /** Distinct topics `getMetrics().byTopic` tracks; later ones are counted under '(other)'. Default 1000. */
  metricsMaxTopics?: number;
}

export interface ReplayOptions {
  /** Where to send the messages. Default: each message's original topic (from its dead-letter headers). */
  targetTopic?: string;
  /** Stop after this many messages. Default: all. */
  limit?: number;
  /** Consumer group reading the dead-letter topic. Default 'contractbus-dlq-replay' where groups exist. */
  group?: string;
  /** Stop once no message arrived for this long. Default 1000 ms. */
  idleMs?: number;
}

export interface ReplayResult {
  replayed: number;
}

type State = 'new' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_PRIORITY = 9;
/** In-progress idempotency claims expire after this (or handlerTimeoutMs + margin): the crash window. */
const DEFAULT_CLAIM_TTL_MS = 60_000;
const CLAIM_TTL_MARGIN_MS = 10_000;

export class BrokerClient implements MessageBroker {
  readonly name: string;
  readonly capabilities: BrokerCapabilities;
  protected readonly transport: Transport;
  protected readonly logger: Logger;
  readonly #codec: Codec;
  readonly #collector: MetricsCollector;
  readonly #recorder: MetricsRecorder;
  readonly #publishTimeoutMs: number;
  /** One timer for every round trip with the default timeout, not one per message. */
  readonly #deadlines: DeadlineQueue;
  readonly #drainTimeoutMs: number;
  readonly #breaker: MessageCircuitBreaker | undefined;
  #hooks: MessagingHooks | undefined;
  readonly #autoHooks: boolean;
  readonly #idempotencyStore: IdempotencyStore | undefined;
  readonly #idempotencyTtlMs: number;
  readonly #subscriptions = new Set<SubscriptionPipeline<never>>();
  readonly #emulatedGroups = new Map<string, EmulatedGroup>();
  readonly #host: PipelineHost;
  #state: State = 'new';
  #connecting: Promise<void> | undefined;
  #disconnecting: Promise<void> | undefined;
  #transportClosing = false;

  constructor(transport: Transport, options: BrokerClientOptions = {}) {
    this.transport = transport;
    this.name = transport.name;
    this.capabilities = transport.capabilities;
    // Handler errors and client-library errors quote connection URLs: mask secrets before any sink.
    this.logger = options.logger === undefined ? silentLogger : createRedactingLogger(options.logger);
    this.#collector = new MetricsCollector(options.metricsMaxTopics === undefined ? {} : { maxTopics: options.metricsMaxTopics });
    this.#codec = options.codec ?? new JsonCodec(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes });
    this.#publishTimeoutMs = positive(options.publishTimeoutMs, DEFAULT_PUBLISH_TIMEOUT_MS, 'publishTimeoutMs');
    this.#deadlines = new DeadlineQueue(this.#publishTimeoutMs);
    this.#drainTimeoutMs = positive(options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 'drainTimeoutMs');
    this.#idempotencyTtlMs = positive(options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 'idempotencyTtlMs');
    this.#idempotencyStore = options.idempotencyStore;
    this.#hooks = options.hooks || undefined;
    this.#autoHooks = options.hooks === undefined;
    this.#breaker = toBreaker(options.publishCircuitBreaker, `${this.name} publish`);
    const extra = options.metricsRecorder === undefined ? [] : Array.isArray(options.metricsRecorder) ? options.metricsRecorder : [options.metricsRecorder];
    this.#recorder =
      extra.length === 0
        ? this.#collector
        : fanOutRecorder([this.#collector, ...extra], (error) => this.logger.warn({ err: error }, 'contractbus: a metrics recorder threw'));
    const client = this;
    this.#host = {
      broker: this.name,
      capabilities: this.capabilities,
      codec: this.#codec,
      recorder: this.#recorder,
      logger: this.logger,
      drainTimeoutMs: this.#drainTimeoutMs,
      get hooks() {
        return client.#hooks;
      },
      sendRaw: async (message) => {
        await client.#send(message, client.#publishTimeoutMs, undefined, false);
      },
      detached: (pipeline) => {
        client.#subscriptions.delete(pipeline as SubscriptionPipeline<never>);
      },
    };
  }

  /** The codec in use (bindings and tools that read raw messages decode with it). */
  get codec(): Codec {
    return this.#codec;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  async connect(): Promise<void> {
    if (this.#state === 'connected') return;
    if (this.#state === 'disconnecting') await this.#disconnecting;
    this.#connecting ??= (async () => {
      this.#state = 'connecting';
      try {
        // Loaded on demand: @opentelemetry/api is an optional peer dependency.
        if (this.#autoHooks) this.#hooks ??= await loadMessagingHooks(this.name);
        await this.transport.connect();
        this.#state = 'connected';
        this.#disconnecting = undefined;
        this.#transportClosing = false;
        this.logger.info({ broker: this.name }, 'contractbus: connected');
      } catch (error) {
        this.#state = 'new';
        this.#recorder.connectionError(error);
        throw error;
      } finally {
        this.#connecting = undefined;
      }
    })();
    return this.#connecting;
  }

  disconnect(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'disconnected' || this.#state === 'new') {
      this.#state = 'disconnected';
      return this.#disconnecting ?? Promise.resolve();
    }
    this.#disconnecting ??= (async () => {
      if (this.#connecting) await this.#connecting.catch(() => undefined);
      this.#state = 'disconnecting';
      const timeoutMs = options.timeoutMs ?? this.#drainTimeoutMs;
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.close({ timeoutMs })));
      this.#transportClosing = true;
      try {
        await this.transport.close();
      } finally {
        this.#state = 'disconnected';
        this.logger.info({ broker: this.name }, 'contractbus: disconnected');
      }
    })();
    return this.#disconnecting;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  // Not async: one promise per publish fewer; every synchronous throw still becomes a rejection.
  publish(topic: string, message: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    try {
      assertTopic(topic, this.name, 'publish');
      this.#assertOpen('publish to', topic, true);
      options.signal?.throwIfAborted();
      return this.#publishWire(topic, this.#codec.encode(message, { topic, broker: this.name }), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Not async, nor is #send: a publish costs the transport's promise, the deadline's and one
   * `then` (two async frames more cost ~0.1 µs per publish, a tenth of the shared layer's share).
   */
  #publishWire(topic: string, body: Uint8Array, options: PublishOptions): Promise<PublishReceipt> {
    const wire: WireMessage = {
      messageId: options.messageId ?? randomUUID(),
      topic,
      body,
      headers: options.headers === undefined ? {} : userHeaders(options.headers, this.name, topic),
      contentType: options.contentType ?? this.#codec.contentType,
      timestamp: Date.now(),
    };
    if (options.correlationId !== undefined) wire.correlationId = options.correlationId;
    if (options.key !== undefined) wire.key = options.key;
    if (options.priority !== undefined) wire.priority = checkPriority(options.priority, this.name, topic);
    if (options.ttl !== undefined) wire.expiresAt = expiresAtFromTtl(options.ttl, wire.timestamp);
    const timeoutMs = options.timeoutMs ?? this.#publishTimeoutMs;
    const hooks = this.#hooks;
    const sent =
      hooks === undefined
        ? this.#send(wire, timeoutMs, options.signal, true)
        : hooks.wrapPublish(topic, wire.headers, () => this.#send(wire, timeoutMs, options.signal, true), {
            messageId: wire.messageId,
            correlationId: wire.correlationId,
            key: wire.key,
            bodySize: body.byteLength,
          });
    return sent.then((result) => {
      const receipt: PublishReceipt = { messageId: wire.messageId, topic };
      if (result.partition !== undefined) receipt.partition = result.partition;
      if (result.offset !== undefined) receipt.offset = result.offset;
      return receipt;
    });
  }

  /**
   * Publishes bytes as they are, bypassing the codec (bridges, replay tools, tests of poison
   * messages). Same ids, headers, timeout and metrics as `publish`.
   */
  async publishRaw(topic: string, body: Uint8Array, options: PublishOptions = {}): Promise<PublishReceipt> {
    assertTopic(topic, this.name, 'publishRaw');
    this.#assertOpen('publish to', topic, true);
    options.signal?.throwIfAborted();
    if (!(body instanceof Uint8Array)) throw new ConfigurationError(`publishRaw to "${topic}" needs a Uint8Array body`, { broker: this.name, topic });
    return this.#publishWire(topic, body, options);
  }

  async subscribe<T = unknown>(topic: string, handler: MessageHandler<T>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    assertTopic(topic, this.name, 'subscribe');
    this.#assertOpen('subscribe to', topic);
    if (typeof handler !== 'function') throw new ConfigurationError(`subscribe to "${topic}" needs a handler function`, { broker: this.name, topic });
    this.#checkCapabilities(topic, options);
    const concurrency = options.concurrency ?? 1;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new ConfigurationError(`concurrency for topic "${topic}" must be an integer >= 1, got ${String(concurrency)}`, { broker: this.name, topic });
    }
    const prefetch = options.prefetch ?? Math.max(concurrency * 2, 10);
    if (!(Number.isInteger(prefetch) && prefetch >= 1)) {
      throw new ConfigurationError(`prefetch for topic "${topic}" must be an integer >= 1, got ${String(prefetch)}`, { broker: this.name, topic });
    }
    const store = options.idempotencyStore === false ? undefined : (options.idempotencyStore ?? this.#idempotencyStore);
    const pipeline = new SubscriptionPipeline<T>(this.#host, {
      topic,
      group: options.group,
      handler,
      validate: options.validate,
      raw: options.raw === true,
      autoAck: options.autoAck ?? true,
      concurrency,
      policy: retryPolicy(options),
      deadLetter: options.enableDlq === false ? undefined : deadLetterFor(topic, options),
      handlerTimeoutMs: options.handlerTimeoutMs,
      breaker: toBreaker(options.circuitBreaker, `${this.name} subscription ${topic}`),
      idempotency:
        store === undefined
          ? undefined
          : {
              store,
              ttlMs: positive(options.idempotencyTtlMs, this.#idempotencyTtlMs, 'idempotencyTtlMs'),
              claimTtlMs: options.handlerTimeoutMs === undefined ? DEFAULT_CLAIM_TTL_MS : options.handlerTimeoutMs + CLAIM_TTL_MARGIN_MS,
              prefix: `${topic}\u0000${options.group ?? ''}\u0000`,
            },
    });
    const spec: ConsumeSpec = {
      topic,
      group: options.group,
      prefetch,
      // A private (group-less) subscription is ephemeral: history would surprise; a named group is durable.
      startFrom: options.startFrom ?? (options.group !== undefined && this.capabilities.durable ? 'earliest' : 'latest'),
    };
    let transportSubscription: TransportSubscription;
    try {
      transportSubscription = this.#emulatesGroup(options)
        ? await this.#emulatedGroup(topic, options.group as string).join(this.transport, spec, pipeline.onDelivery)
        : await this.transport.consume(spec, pipeline.onDelivery);
    } catch (error) {
      pipeline.discard();
      throw error;
    }
    pipeline.attach(transportSubscription);
    const typed = pipeline as unknown as SubscriptionPipeline<never>;
    this.#subscriptions.add(typed);
    if (this.#state !== 'connected') {
      // disconnect() began while the broker was attaching this consumer: do not leave it running.
      await pipeline.close({ timeoutMs: 0 });
      this.#assertOpen('subscribe to', topic);
    }
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) await pipeline.close();
      else signal.addEventListener('abort', () => void pipeline.close(), { once: true });
    }
    this.logger.debug({ broker: this.name, topic, group: options.group, concurrency, prefetch }, 'contractbus: subscribed');
    return pipeline;
  }

  async sendToDlq(input: DeadLetterInput, reason: string): Promise<void> {
    assertTopic(input.topic, this.name, 'sendToDlq');
    this.#assertOpen('dead-letter from', input.topic, true);
    const now = Date.now();
    const headers = stripDeadLetterHeaders(input.headers ?? {});
    delete headers[HEADER.attempt];
    Object.assign(headers, deadLetterHeaders({ reason, error: input.error, attempts: input.attempts ?? 1, originalTopic: input.topic, firstFailureAt: now, lastFailureAt: now }));
    const deadLetterTopic = deadLetterTopicFor(input.topic, { deadLetterTopic: input.deadLetterTopic });
    await this.#send(
      {
        messageId: input.messageId ?? randomUUID(),
        topic: deadLetterTopic,
        // Bytes (a raw subscription's payload) go as they are: a poison message stays byte-identical.
        body: input.payload instanceof Uint8Array ? input.payload : this.#codec.encode(input.payload, { topic: deadLetterTopic, broker: this.name }),
        headers,
        contentType: this.#codec.contentType,
        timestamp: now,
      },
      this.#publishTimeoutMs,
      undefined,
      false,
    );
    this.#recorder.deadLettered(input.topic, reason);
  }

  /**
   * Where `replayDeadLetters` reads dead letters from: by default a consumer group on the
   * dead-letter topic. Bindings that keep dead letters elsewhere (RabbitMQ: a queue named after
   * the topic) override this, and only this.
   */
  protected openDeadLetterSource(deadLetterTopic: string, options: ReplayOptions, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    return this.transport.consume(
      {
        topic: deadLetterTopic,
        group: options.group ?? (this.capabilities.consumerGroups ? 'contractbus-dlq-replay' : undefined),
        prefetch: 1,
        startFrom: 'earliest',
      },
      onDelivery,
    );
  }

  /**
   * Moves dead-lettered messages back to their original topic (or `targetTopic`), keeping id, body
   * and user headers, without the dead-letter headers. Each is acked on the dead-letter topic only
   * after the republish is confirmed.
   */
  async replayDeadLetters(deadLetterTopic: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    assertTopic(deadLetterTopic, this.name, 'replayDeadLetters');
    this.#assertOpen('replay from', deadLetterTopic);
    const limit = options.limit ?? Infinity;
    const idleMs = options.idleMs ?? 1000;
    let replayed = 0;
    let lastActivity = Date.now();
    let failure: unknown;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const subscription = await this.openDeadLetterSource(deadLetterTopic, options, async (delivery) => {
        lastActivity = Date.now();
        if (replayed >= limit || failure !== undefined) return delivery.nack({ requeue: true });
        const message = delivery.message;
        const target = options.targetTopic ?? message.headers[HEADER.dlqOriginalTopic];
        if (target === undefined) {
          failure = new ConfigurationError(`Message ${message.messageId} on "${deadLetterTopic}" has no original-topic header`, {
            broker: this.name,
            topic: deadLetterTopic,
            hint: 'Pass targetTopic to replayDeadLetters',
          });
          finish();
          return delivery.nack({ requeue: true });
        }
        const headers = stripDeadLetterHeaders(message.headers);
        delete headers[HEADER.attempt];
        const copy: WireMessage = { ...message, topic: target, headers };
        delete copy.expiresAt;
        try {
          await this.#send(copy, this.#publishTimeoutMs, undefined, false);
        } catch (error) {
          failure = error;
          finish();
          return delivery.nack({ requeue: true });
        }
        await delivery.ack();
        replayed++;
        if (replayed >= limit) finish();
    });
    const idleTimer = setInterval(() => {
      if (Date.now() - lastActivity >= idleMs) finish();
    }, Math.max(10, Math.min(idleMs / 4, 250)));
    try {
      await finished;
    } finally {
      clearInterval(idleTimer);
      await subscription.close();
    }
    if (failure !== undefined) throw failure;
    this.logger.info({ broker: this.name, deadLetterTopic, replayed }, 'contractbus: dead letters replayed');
    return { replayed };
  }

  getMetrics(): BrokerMetrics {
    return this.#collector.snapshot();
  }

  async healthCheck(): Promise<HealthStatus> {
    const issues: string[] = [];
    const details: Record<string, unknown> = { broker: this.name, state: this.#state };
    if (this.#state !== 'connected') issues.push(`${this.name}: not connected (state ${this.#state})`);
    try {
      const transport = await withTimeout(this.transport.health(), this.#publishTimeoutMs, () => new TimeoutError(`${this.name} health check timed out after ${this.#publishTimeoutMs} ms`, { broker: this.name }));
      issues.push(...transport.issues);
      details.transport = transport.details;
      const fill = transport.details.bufferFill;
      if (typeof fill === 'number') {
        details.bufferFill = fill;
        if (fill >= 0.9) issues.push(`${this.name}: publish buffer ${Math.round(fill * 100)} % full`);
      }
    } catch (error) {
      issues.push(`${this.name}: health check failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const subscriptions: Array<Record<string, unknown>> = [];
    for (const subscription of this.#subscriptions) {
      const circuit = subscription.breaker?.state;
      subscriptions.push({ topic: subscription.topic, group: subscription.group, alive: subscription.alive, inFlight: subscription.inFlight, circuit });
      if (!subscription.alive && this.#state === 'connected') issues.push(`subscription to "${subscription.topic}" is not running`);
      if (circuit === 'open') issues.push(`subscription to "${subscription.topic}": circuit open, paused`);
    }
    details.subscriptions = subscriptions;
    if (this.#breaker) {
      details.publishCircuit = this.#breaker.state;
      if (this.#breaker.state === 'open') issues.push(`${this.name}: publish circuit open`);
    }
    details.inFlight = this.#collector.inFlightNow;
    return { isHealthy: issues.length === 0, issues, details };
  }

  /** One broker round trip with timeout, circuit breaker and metrics. Never throws: a failure is a rejection. */
  #send(message: WireMessage, timeoutMs: number, signal: AbortSignal | undefined, guarded: boolean): Promise<{ partition?: number; offset?: string }> {
    const breaker = guarded ? this.#breaker : undefined;
    if (breaker && !breaker.canAttempt()) return Promise.reject(breaker.openError());
    const started = performance.now();
    let sending: Promise<{ partition?: number; offset?: string }>;
    try {
      const sent = this.transport.send(message, signal === undefined ? { timeoutMs } : { timeoutMs, signal });
      // The caller's abort settles the publish even if the transport ignores the signal.
      sending = signal === undefined ? sent : abortable(sent, signal);
    } catch (error) {
      sending = Promise.reject(error);
    }
    const onTimeout = (): TimeoutError =>
      new TimeoutError(`Publish to topic "${message.topic}" on ${this.name} not confirmed within ${timeoutMs} ms`, {
        broker: this.name,
        topic: message.topic,
        hint: 'Check the broker is reachable and not overloaded, or raise publishTimeoutMs',
      });
    const timed = timeoutMs === this.#deadlines.ms ? this.#deadlines.track(sending, onTimeout, started) : withTimeout(sending, timeoutMs, onTimeout);
    return timed.then(
      (result) => {
        breaker?.recordSuccess();
        this.#recorder.published(message.topic, performance.now() - started);
        return result;
      },
      (error: unknown) => {
        breaker?.recordFailure(error);
        this.#recorder.publishFailed(message.topic, error);
        if (error instanceof ConnectionError || error instanceof TimeoutError) this.#recorder.connectionError(error);
        throw error;
      },
    );
  }

  #emulatesGroup(options: Pick<SubscribeOptions, 'group' | 'emulate'>): boolean {
    return options.group !== undefined && !this.capabilities.consumerGroups && options.emulate === true;
  }

  #emulatedGroup(topic: string, group: string): EmulatedGroup {
    const id = `${topic}\u0000${group}`;
    let emulated = this.#emulatedGroups.get(id);
    if (!emulated) {
      emulated = new EmulatedGroup(() => this.#emulatedGroups.delete(id));
      this.#emulatedGroups.set(id, emulated);
    }
    return emulated;
  }

  /** `whileDraining`: handlers still running during disconnect() may publish their results. */
  #assertOpen(operation: string, topic: string, whileDraining = false): void {
    if (this.#state === 'connected' || (whileDraining && this.#state === 'disconnecting' && !this.#transportClosing)) return;
    const never = this.#state === 'new' || this.#state === 'connecting';
    throw new ClosedError(`Cannot ${operation} topic "${topic}": the ${this.name} broker is ${never ? 'not connected yet' : 'disconnected'}`, {
      broker: this.name,
      topic,
      hint: never ? 'Await broker.connect() first (connect(url) does it for you)' : 'disconnect() is final for this client: create and connect a new one',
    });
  }

  #checkCapabilities(topic: string, options: Pick<SubscribeOptions, 'group' | 'orderByKey' | 'emulate'>): void {
    const caps = this.capabilities;
    const emulate = options.emulate === true;
    if (isPatternTopic(topic) && !caps.patternSubscribe) {
      throw new CapabilityError(`The ${this.name} binding cannot subscribe to the pattern "${topic}"`, {
        broker: this.name,
        topic,
        hint: 'Subscribe to each concrete topic, or use a binding with patternSubscribe (memory, Redis, RabbitMQ)',
      });
    }
    if (options.group !== undefined && !caps.consumerGroups) {
      if (!emulate) {
        throw new CapabilityError(`The ${this.name} binding has no consumer groups (group "${options.group}" on "${topic}")`, {
          broker: this.name,
          topic,
          hint: 'Use a binding with groups (e.g. Redis Streams), drop `group`, or pass emulate: true (members compete only within this client)',
        });
      }
      this.logger.warn({ broker: this.name, topic, group: options.group }, 'contractbus: consumer group emulated in this process: its subscriptions on this client compete; other processes each get every message');
    }
    if (options.orderByKey === true && !caps.orderingByKey) {
      if (!emulate) {
        throw new CapabilityError(`The ${this.name} binding does not keep order per key (topic "${topic}")`, {
          broker: this.name,
          topic,
          hint: 'Use Kafka, Redis Streams or memory, or pass emulate: true (order kept only among messages this subscriber holds at once)',
        });
      }
      this.logger.warn({ broker: this.name, topic }, 'contractbus: ordering by key emulated in process only');
    }
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** `replayDeadLetters(broker, 'orders.dlq')`: see `BrokerClient.replayDeadLetters`. */
export function replayDeadLetters(broker: MessageBroker, deadLetterTopic: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  if (!(broker instanceof BrokerClient)) {
    throw new ConfigurationError(`replayDeadLetters needs a contractbus BrokerClient, got ${broker.name}`, { broker: broker.name, topic: deadLetterTopic });
  }
  return broker.replayDeadLetters(deadLetterTopic, options);
}

/** Validates the dead-letter options at subscribe time (a bad suffix fails here, not on the first failure). */
function deadLetterFor(topic: string, options: Pick<SubscribeOptions, 'deadLetterTopic' | 'dlqSuffix'>): { topic: string | undefined; suffix: string | undefined } {
  deadLetterTopicFor(topic, { deadLetterTopic: options.deadLetterTopic, dlqSuffix: options.dlqSuffix });
  if (options.deadLetterTopic !== undefined && isPatternTopic(options.deadLetterTopic)) {
    throw new ConfigurationError(`deadLetterTopic "${options.deadLetterTopic}" for "${topic}" is a pattern`, { topic, hint: 'Name one concrete topic' });
  }
  return { topic: options.deadLetterTopic, suffix: options.dlqSuffix };
}

function userHeaders(headers: Headers, broker: string, topic: string): Headers {
  const copy: Headers = {};
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    // Channel parameters on collapsed topics (channel.ts) are user data, set by generated clients and other producers.
    if (name.toLowerCase().startsWith(RESERVED_HEADER_PREFIX) && !name.startsWith(HEADER.paramPrefix)) {
      throw new ConfigurationError(`Header "${name}" on topic "${topic}" uses the reserved prefix ${RESERVED_HEADER_PREFIX}`, { broker, topic, hint: 'Rename the header' });
    }
    if (typeof value !== 'string') {
      throw new ConfigurationError(`Header "${name}" on topic "${topic}" must be a string, got ${typeof value}`, { broker, topic, hint: 'Convert header values with String()' });
    }
    copy[name] = value;
  }
  return copy;
}

function checkPriority(priority: number, broker: string, topic: string): number {
  if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new ConfigurationError(`priority on topic "${topic}" must be an integer 0–${MAX_PRIORITY}, got ${String(priority)}`, { broker, topic });
  }
  return priority;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value > 0)) throw new ConfigurationError(`${name} must be a positive number of ms, got ${String(value)}`);
  return value;
}

function toBreaker(option: MessageCircuitBreaker | CircuitBreakerOptions | undefined, name: string): MessageCircuitBreaker | undefined {
  if (option === undefined) return undefined;
  if (option instanceof MessageCircuitBreaker) return option;
  return new MessageCircuitBreaker({ name, ...option });
}
