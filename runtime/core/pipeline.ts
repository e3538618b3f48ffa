/**
 * The consume pipeline of one subscription, written once for every binding:
 * keyed concurrency slot → expiry → decode → validate → idempotency → circuit breaker → handler
 * (with timeout) → ack, or retry (delayed redelivery by the broker, else in process) → dead-letter.
 * The slot is taken first, synchronously on arrival, because the later steps are async (an
 * idempotency store round trip) and would otherwise let a key's messages overtake each other.
 * Whatever a message does, the consumer keeps going: every path ends in ack or nack.
 */
import type { Codec } from './codec.ts';
import { TimeoutError, ValidationError } from './errors.ts';
import { HEADER } from './headers.ts';
import type { MessagingHooks } from './hooks.ts';
import type { Logger } from './logger.ts';
import type { MetricsRecorder } from './metrics.ts';
import { ACK_SENT, type Delivery, type TransportSubscription, type WireMessage } from './transport.ts';
import type { BrokerCapabilities, Headers, MessageHandler, MessageMetadata, NackOptions, PayloadValidator, Subscription } from './types.ts';
import type { MessageCircuitBreaker } from '../reliability/circuit-breaker.ts';
import { DONE, KeyedConcurrencyLimiter } from '../reliability/concurrency.ts';
import { DEFAULT_DLQ_SUFFIX, deadLetterHeaders, deadLetterReasonFor, deadLetterTopicFor, stripDeadLetterHeaders } from '../reliability/dead-letter.ts';
import { isExpired } from '../reliability/ttl.ts';
import type { IdempotencyStore } from '../reliability/idempotency.ts';
import type { RetryPolicy } from '../reliability/retry.ts';
import { sleep } from '../reliability/retry.ts';
import { withTimeout } from './timeout.ts';
import { isPatternTopic } from './topic.ts';

/** What a pipeline needs from its broker client. */
export interface PipelineHost {
  readonly broker: string;
  readonly capabilities: BrokerCapabilities;
  readonly codec: Codec;
  readonly recorder: MetricsRecorder;
  readonly logger: Logger;
  readonly drainTimeoutMs: number;
  readonly hooks: MessagingHooks | undefined;
  /** Sends an already-encoded message (the dead-letter copy) with the client's round-trip timeout. */
  sendRaw(message: WireMessage): Promise<void>;
  detached(pipeline: Subscription): void;
}

export interface PipelineConfig<T> {
  topic: string;
  group: string | undefined;
  handler: MessageHandler<T>;
  validate: PayloadValidator<T> | undefined;
  /** Skip decoding: the handler gets the body bytes. */
  raw: boolean;
  autoAck: boolean;
  concurrency: number;
  policy: RetryPolicy;
  /**
   * undefined: dead-lettering disabled (failed messages are acked and counted as dropped).
   * `topic`: one fixed dead-letter topic; else `<the message's concrete topic><suffix>`, so a
   * pattern subscription dead-letters `orders.eu` to `orders.eu.dlq`, not to `orders.*.dlq`.
   */
  deadLetter: { topic: string | undefined; suffix: string | undefined } | undefined;
  handlerTimeoutMs: number | undefined;
  breaker: MessageCircuitBreaker | undefined;
  /**
   * ttlMs: how long a handled id is remembered. claimTtlMs: how long an in-progress claim lives,
   * so a consumer that crashes mid-handler blocks a redelivery for at most that long.
   */
  idempotency: { store: IdempotencyStore; ttlMs: number; claimTtlMs: number; prefix: string } | undefined;
}

/** Delay before a message whose dead-letter publish failed comes back (the DLQ is likely down). */
const DLQ_FAILURE_REQUEUE_DELAY_MS = 1000;
/** Acks the broker may leave unconfirmed before a handler slot waits for one (see #unconfirmedAcks). */
const MIN_UNCONFIRMED_ACKS = 1_024;
/** Bound of remembered first-failure times for messages waiting on a delayed redelivery. */
const MAX_TRACKED_FAILURES = 10_000;

export class SubscriptionPipeline<T> implements Subscription {
  readonly topic: string;
  readonly group: string | undefined;
  readonly #host: PipelineHost;
  readonly #config: PipelineConfig<T>;
  readonly #limiter: KeyedConcurrencyLimiter;
  /** Wakes retry sleeps and circuit waits on close; they requeue their message. */
  readonly #stopping = new AbortController();
  readonly #firstFailures = new Map<string, number>();
  readonly #skipsDeadLetters: boolean;
  readonly #dlqSuffix: string;
  #transport: TransportSubscription | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #breakerGate: Promise<void> | undefined;
  #releaseBreakerGate: (() => void) | undefined;
  #breakerTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onBreakerChange: ((from: string, to: string) => void) | undefined;
  /**
   * Acks sent after a handler succeeded that the broker has not confirmed yet (a round trip on
   * Redis Streams). The handler's concurrency slot is freed when the ack is sent, not when it is
   * confirmed: holding it made every batch of handlers wait one round trip before the next began.
   * At most max(concurrency, 1024) of them (then the slot is held until confirmed); close waits
   * for them. Not `concurrency` alone: at the default concurrency of 1 every second message then
   * waited a round trip (a default Redis Streams subscription drained 23k msg/s, 78k with 1024).
   */
  #unconfirmedAcks = 0;
  readonly #maxUnconfirmedAcks: number;
  #ackWaiters: Array<() => void> = [];
  /** Settled per subscription: whether #processFast may take a message (see there). */
  readonly #syncPass: boolean;

  constructor(host: PipelineHost, config: PipelineConfig<T>) {
    this.#host = host;
    this.#config = config;
    this.topic = config.topic;
    this.group = config.group;
    this.#limiter = new KeyedConcurrencyLimiter(config.concurrency);
    this.#skipsDeadLetters = isPatternTopic(config.topic) && config.deadLetter !== undefined;
    this.#dlqSuffix = config.deadLetter?.suffix ?? DEFAULT_DLQ_SUFFIX;
    this.#maxUnconfirmedAcks = Math.min(Math.max(this.#limiter.limit, MIN_UNCONFIRMED_ACKS), 10_000);
    this.#syncPass = config.idempotency === undefined && config.breaker === undefined && config.handlerTimeoutMs === undefined && !this.#skipsDeadLetters;
    if (config.breaker) {
      this.#onBreakerChange = (_from, to) => this.#breakerChanged(to);
      config.breaker.on('stateChange', this.#onBreakerChange);
    }
  }

  /** Handed to `Transport.consume`: one bound function per subscription, not per message. */
  readonly onDelivery = (delivery: Delivery): Promise<void> => {
    if (this.#closing !== undefined) return this.#requeue(delivery);
    if (!this.#syncPass) return this.#limiter.run(delivery.message.key, () => this.#process(delivery)).catch(this.#unexpected);
    const ran = this.#limiter.run(delivery.message.key, () => this.#processFast(delivery));
    return ran === DONE ? ran : ran.catch(this.#unexpected);
  };

  /** #process handles every error itself; reaching this is a bug, but it must not kill the consumer. */
  readonly #unexpected = (error: unknown): void => {
    this.#host.logger.error({ err: error, topic: this.topic }, 'contractbus: unexpected pipeline error');
  };

  /** Called once by the client after `Transport.consume` resolved. */
  attach(subscription: TransportSubscription): void {
    this.#transport = subscription;
    if (this.#config.breaker?.state === 'open') this.#breakerChanged('open');
  }

  /** The transport refused the subscription: drop the listeners this pipeline registered. */
  discard(): void {
    this.#closed = true;
    if (this.#config.breaker && this.#onBreakerChange) this.#config.breaker.off('stateChange', this.#onBreakerChange);
  }

  get alive(): boolean {
    return this.#transport !== undefined && this.#transport.alive !== false && !this.#closed && this.#closing === undefined;
  }

  get inFlight(): number {
    return this.#limiter.inFlight;
  }

  get breaker(): MessageCircuitBreaker | undefined {
    return this.#config.breaker;
  }

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#drainAndDetach(options.timeoutMs ?? this.#host.drainTimeoutMs);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #drainAndDetach(timeoutMs: number): Promise<void> {
    const { logger } = this.#host;
    this.#stopping.abort();
    this.#openBreakerGate();
    if (this.#breakerTimer) clearTimeout(this.#breakerTimer);
    if (this.#config.breaker && this.#onBreakerChange) this.#config.breaker.off('stateChange', this.#onBreakerChange);
    try {
      await this.#transport?.pause();
    } catch (error) {
      logger.warn({ err: error, topic: this.topic }, 'contractbus: pausing the subscription before drain failed');
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      this.#limiter.idle().then(() => this.#acksConfirmed()).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      // Unfinished deliveries stay unacked: the broker redelivers them (at-least-once), nothing is lost.
      logger.warn({ topic: this.topic, group: this.group, inFlight: this.#limiter.inFlight, timeoutMs }, 'contractbus: drain timed out; unfinished messages were not acked');
    }
    try {
      await this.#transport?.close();
    } catch (error) {
      logger.warn({ err: error, topic: this.topic }, 'contractbus: closing the transport subscription failed');
    } finally {
      this.#closed = true;
      this.#host.detached(this);
    }
  }

  /**
   * The common case without async frames: no idempotency, breaker, handler timeout or live tracing,
   * a message that decodes and validates, and a handler that returns a plain value. Anything else
   * goes on the general path (#process, or #attempts from the handler's outcome). Returns
   * undefined when the message was handled (and its ack sent) synchronously.
   */
  #processFast(delivery: Delivery): Promise<void> | undefined {
    const host = this.#host;
    const config = this.#config;
    const message = delivery.message;
    const hooks = host.hooks;
    if (this.#closing !== undefined || (hooks !== undefined && hooks.processIsPlain?.() !== true) || message.expiresAt !== undefined) {
      return this.#process(delivery);
    }
    let payload: unknown = message.body;
    try {
      if (!config.raw) payload = host.codec.decode(message.body, { topic: message.topic, broker: host.broker });
      if (config.validate) payload = config.validate(payload);
    } catch {
      // The general path decodes and validates again, and dead-letters with the reason.
      return this.#process(delivery);
    }
    const context = new DeliveryContext(this, delivery, startAttempt(delivery));
    host.recorder.inFlight(1);
    const started = performance.now();
    let result: unknown;
    try {
      result = config.handler(payload as T, context);
    } catch (error) {
      return this.#finishAttempts(context, payload as T, { started, threw: true, error, result: undefined });
    }
    if (isThenable(result)) return this.#finishAttempts(context, payload as T, { started, threw: false, error: undefined, result });
    let after: Promise<void> | undefined;
    try {
      after = this.#succeeded(context, undefined, started);
    } finally {
      if (after === undefined) host.recorder.inFlight(-1);
    }
    return after === undefined ? undefined : after.finally(() => host.recorder.inFlight(-1));
  }

  async #finishAttempts(context: DeliveryContext, payload: T, ran: FirstCall): Promise<void> {
    try {
      await this.#attempts(context, payload, undefined, ran);
    } finally {
      this.#host.recorder.inFlight(-1);
    }
  }

  async #process(delivery: Delivery): Promise<void> {
    if (this.#closing !== undefined) return this.#requeue(delivery);
    const host = this.#host;
    const config = this.#config;
    const message = delivery.message;
    // Checked when a slot is free, not on arrival: a message can expire while queued behind others.
    if (message.expiresAt !== undefined && isExpired(message.expiresAt)) {
      host.recorder.expiredDropped(message.topic);
      return this.#settle(delivery.ack(), message, 'ack of an expired message');
    }
    if (this.#skipsDeadLetters && message.headers[HEADER.dlqReason] !== undefined && message.topic.endsWith(this.#dlqSuffix)) {
      // A '#' pattern also matches its own dead-letter topics: handling (and failing) them again
      // would grow orders.x.dlq.dlq.dlq… This group's copy is acked; the dead-letter topic keeps its own.
      host.logger.debug({ topic: message.topic, messageId: message.messageId, pattern: this.topic }, 'contractbus: pattern subscription skips a dead letter');
      return this.#settle(delivery.ack(), message, 'ack of a dead letter matched by a pattern');
    }
    const context = new DeliveryContext(this, delivery, startAttempt(delivery));
    host.recorder.inFlight(1);
    try {
      let payload: unknown = message.body;
      if (!config.raw) {
        try {
          payload = host.codec.decode(message.body, { topic: message.topic, broker: host.broker });
        } catch (error) {
          host.recorder.processingError(message.topic, error);
          return await this.deadLetter(context, error, 'malformed message');
        }
      }
      if (config.validate) {
        try {
          payload = config.validate(payload);
        } catch (error) {
          host.recorder.processingError(message.topic, error);
          return await this.deadLetter(context, asValidationError(error, message.topic, host.broker), 'validation failed');
        }
      }
      const claim = config.idempotency ? config.idempotency.prefix + message.messageId : undefined;
      if (claim !== undefined) {
        let first = await this.#claim(claim, message);
        // A redelivery may meet the in-progress claim of a consumer that crashed mid-handler: wait
        // for that claim to expire instead of dropping the message as a duplicate.
        if (!first && (context.attempt > 1 || delivery.deliveryCount > 1)) {
          const outcome = await this.#awaitStaleClaim(claim, message);
          if (outcome === 'closing') return this.#requeue(delivery);
          first = outcome;
        }
        if (!first) {
          host.recorder.duplicateDropped(message.topic);
          return await this.#settle(context.ack(), message, 'ack of a duplicate');
        }
      }
      await this.#attempts(context, payload as T, claim);
    } finally {
      host.recorder.inFlight(-1);
    }
  }

  /** `ran`: the first attempt's handler call already made (the fast path), to finish here. */
  async #attempts(first: DeliveryContext, payload: T, claim: string | undefined, ran?: FirstCall): Promise<void> {
    let context = first;
    const host = this.#host;
    const config = this.#config;
    const message = context.message;
    let resumed = ran;
    for (;;) {
      if (resumed === undefined && config.breaker && !(await this.#passBreaker(config.breaker))) {
        await this.#release(claim);
        return this.#requeue(context.delivery);
      }
      const started = resumed === undefined ? performance.now() : resumed.started;
      try {
        if (resumed !== undefined) {
          const call = resumed;
          resumed = undefined;
          if (call.threw) throw call.error;
          await call.result;
        } else if (host.hooks === undefined) await this.#runHandler(payload, context);
        else {
          const attemptContext = context;
          await host.hooks.wrapProcess(
            message.topic,
            message.headers,
            {
              messageId: message.messageId,
              correlationId: message.correlationId,
              group: config.group,
              subscription: message.topic === config.topic ? undefined : config.topic,
              attempt: context.attempt,
              key: message.key,
              bodySize: message.body.byteLength,
            },
            () => this.#runHandler(payload, attemptContext),
          );
        }
      } catch (error) {
        config.breaker?.recordFailure(error);
        host.recorder.processingError(message.topic, error);
        const now = Date.now();
        context.lastFailureAt = now;
        context.firstFailureAt ??= this.#firstFailures.get(message.messageId) ?? now;
        if (context.settled) {
          // Manual mode: the handler already acked or nacked, then threw. Its decision stands.
          host.logger.warn({ err: error, topic: message.topic, messageId: message.messageId }, 'contractbus: handler threw after settling the message');
          await this.#release(claim);
          return;
        }
        if (config.policy.shouldRetry(error, context.attempt)) {
          const delayMs = config.policy.delayFor(context.attempt);
          host.recorder.retried(message.topic, context.attempt);
          host.logger.debug({ err: error, topic: message.topic, messageId: message.messageId, attempt: context.attempt, delayMs }, 'contractbus: handler failed, retrying');
          if (host.capabilities.delayedRedelivery) {
            this.#rememberFailure(message.messageId, context.firstFailureAt);
            await this.#release(claim);
            return this.#settle(context.delivery.nack({ requeue: true, delayMs }), message, 'nack for delayed redelivery');
          }
          try {
            await sleep(delayMs, this.#stopping.signal);
          } catch {
            await this.#release(claim);
            return this.#requeue(context.delivery);
          }
          // A fresh metadata object per attempt: a handler that kept the previous one sees it unchanged.
          context = context.nextAttempt();
          continue;
        }
        // Released so a replay from the dead-letter topic (same message id) is handled again.
        await this.#release(claim);
        return this.deadLetter(context, error, deadLetterReasonFor(error, context.attempt));
      }
      const after = this.#succeeded(context, claim, started);
      if (after !== undefined) await after;
      return;
    }
  }

  /** The handler resolved: metrics, the claim, the ack. A promise only when something must be awaited. */
  #succeeded(context: DeliveryContext, claim: string | undefined, started: number): Promise<void> | undefined {
    const config = this.#config;
    const message = context.message;
    config.breaker?.recordSuccess();
    this.#host.recorder.consumed(message.topic, performance.now() - started);
    if (this.#firstFailures.size > 0) this.#firstFailures.delete(message.messageId);
    if (context.requeued || (claim !== undefined && config.idempotency)) return this.#succeededWithClaim(context, claim);
    return this.#ackHandled(context);
  }

  async #succeededWithClaim(context: DeliveryContext, claim: string | undefined): Promise<void> {
    const config = this.#config;
    const message = context.message;
    if (context.requeued) {
      // Manual mode: the handler resolved but asked for redelivery, so the message is not
      // handled yet: free the claim for the redelivery instead of recording it as done.
      await this.#release(claim);
    } else if (claim !== undefined && config.idempotency) {
      try {
        await config.idempotency.store.complete(claim, config.idempotency.ttlMs);
      } catch (error) {
        this.#host.logger.warn({ err: error, topic: message.topic, messageId: message.messageId }, 'contractbus: idempotency store failed to record a handled message');
      }
    }
    await this.#ackHandled(context);
  }

  #ackHandled(context: DeliveryContext): Promise<void> | undefined {
    if (!this.#config.autoAck) return undefined;
    const ack = context.ack();
    if (ack === ACK_SENT) return undefined;
    if (this.#unconfirmedAcks >= this.#maxUnconfirmedAcks) return this.#settle(ack, context.message, 'ack');
    this.#unconfirmedAcks++;
    void this.#settleUnconfirmed(ack, context.message);
    return undefined;
  }

  /** Not async: a synchronous handler costs no promise here; callers await it inside their try. */
  #runHandler(payload: T, context: DeliveryContext): Promise<unknown> | unknown {
    const config = this.#config;
    if (config.handlerTimeoutMs === undefined) return config.handler(payload, context);
    const timeoutMs = config.handlerTimeoutMs;
    const topic = context.message.topic;
    return withTimeout(
      Promise.resolve().then(() => config.handler(payload, context)),
      timeoutMs,
      () => new TimeoutError(`Handler for topic "${topic}" still running after ${timeoutMs} ms`, { broker: this.#host.broker, topic, hint: 'Raise handlerTimeoutMs or make the handler faster' }),
    );
  }

  /**
   * Publishes the dead-letter copy (same id and body, reason headers) and acks the original only
   * once that publish is confirmed; if it fails the original is requeued, so nothing is lost.
   */
  deadLetter(context: DeliveryContext, error: unknown, reason: string): Promise<void> {
    return context.settleWith(() => this.deadLetterNow(context, error, reason));
  }

  /** Only through `DeliveryContext.settleWith`, which guarantees a single settlement. */
  async deadLetterNow(context: DeliveryContext, error: unknown, reason: string): Promise<void> {
    const host = this.#host;
    const message = context.message;
    this.#firstFailures.delete(message.messageId);
    const deadLetter = this.#config.deadLetter;
    if (deadLetter === undefined) {
      host.recorder.dropped(message.topic, reason);
      host.logger.warn({ err: error, topic: message.topic, messageId: message.messageId, reason }, 'contractbus: message failed and enableDlq is false: acked and dropped');
      return this.#settle(context.delivery.ack(), message, 'ack of a dropped message');
    }
    const now = Date.now();
    const headers: Headers = stripDeadLetterHeaders(message.headers);
    delete headers[HEADER.attempt];
    Object.assign(
      headers,
      deadLetterHeaders({ reason, error, attempts: context.attempt, originalTopic: message.topic, firstFailureAt: context.firstFailureAt ?? now, lastFailureAt: context.lastFailureAt ?? now }),
    );
    const deadLetterTopic = deadLetter.topic ?? deadLetterTopicFor(message.topic, { dlqSuffix: deadLetter.suffix });
    const copy: WireMessage = { ...message, topic: deadLetterTopic, headers };
    delete copy.expiresAt;
    try {
      await host.sendRaw(copy);
    } catch (sendError) {
      host.logger.error({ err: sendError, topic: message.topic, deadLetterTopic, messageId: message.messageId }, 'contractbus: dead-letter publish failed; message requeued');
      return this.#settle(context.delivery.nack({ requeue: true, delayMs: DLQ_FAILURE_REQUEUE_DELAY_MS }), message, 'nack after a failed dead-letter publish');
    }
    host.recorder.deadLettered(message.topic, reason);
    host.logger.debug({ topic: message.topic, deadLetterTopic, messageId: message.messageId, reason }, 'contractbus: message dead-lettered');
    return this.#settle(context.delivery.ack(), message, 'ack after dead-lettering');
  }

  /** Admits one attempt through the breaker, waiting (paused) while it is open. false: closing. */
  async #passBreaker(breaker: MessageCircuitBreaker): Promise<boolean> {
    for (;;) {
      if (this.#closing !== undefined) return false;
      if (breaker.canAttempt()) return true;
      this.#breakerGate ??= new Promise<void>((resolve) => {
        this.#releaseBreakerGate = resolve;
        const retryAt = breaker.retryAt;
        // Half-open with its trial slots taken: check again soon; open: wake at the retry time.
        const wait = retryAt === undefined ? 25 : Math.max(1, retryAt.getTime() - Date.now());
        const timer = setTimeout(() => this.#openBreakerGate(), wait);
        timer.unref?.();
      });
      await this.#breakerGate;
    }
  }

  #openBreakerGate(): void {
    const release = this.#releaseBreakerGate;
    this.#breakerGate = undefined;
    this.#releaseBreakerGate = undefined;
    release?.();
  }

  #breakerChanged(to: string): void {
    if (this.#closing !== undefined || this.#transport === undefined) return;
    const transport = this.#transport;
    const { logger } = this.#host;
    if (this.#breakerTimer) clearTimeout(this.#breakerTimer);
    this.#breakerTimer = undefined;
    if (to === 'open') {
      logger.warn({ topic: this.topic, group: this.group }, 'contractbus: circuit open, subscription paused');
      void Promise.resolve(transport.pause()).catch((error: unknown) => logger.warn({ err: error, topic: this.topic }, 'contractbus: pause failed'));
      const retryAt = this.#config.breaker?.retryAt;
      const wait = retryAt === undefined ? 0 : Math.max(1, retryAt.getTime() - Date.now());
      // The breaker turns half-open lazily (when read): read it at the retry time.
      this.#breakerTimer = setTimeout(() => {
        this.#breakerTimer = undefined;
        if (this.#config.breaker?.state !== 'open') this.#breakerChanged('half-open');
      }, wait);
      return;
    }
    logger.info({ topic: this.topic, group: this.group, state: to }, 'contractbus: circuit no longer open, subscription resumed');
    this.#openBreakerGate();
    void Promise.resolve(transport.resume()).catch((error: unknown) => logger.warn({ err: error, topic: this.topic }, 'contractbus: resume failed'));
  }

  #rememberFailure(messageId: string, at: number): void {
    if (this.#firstFailures.has(messageId)) return;
    if (this.#firstFailures.size >= MAX_TRACKED_FAILURES) {
      const oldest = this.#firstFailures.keys().next();
      if (!oldest.done) this.#firstFailures.delete(oldest.value);
    }
    this.#firstFailures.set(messageId, at);
  }

  async #claim(claim: string, message: WireMessage): Promise<boolean> {
    const idempotency = this.#config.idempotency;
    if (!idempotency) return true;
    try {
      return await idempotency.store.tryClaim(claim, idempotency.claimTtlMs);
    } catch (error) {
      // A broken store must not stop the flow: handle it (at-least-once still holds).
      this.#host.logger.warn({ err: error, topic: message.topic, messageId: message.messageId }, 'contractbus: idempotency store failed; handling without deduplication');
      return true;
    }
  }

  /** Polls the claim until it can be taken or `claimTtlMs` has passed (then it is a real duplicate). */
  async #awaitStaleClaim(claim: string, message: WireMessage): Promise<boolean | 'closing'> {
    const claimTtlMs = this.#config.idempotency?.claimTtlMs ?? 0;
    const deadline = Date.now() + claimTtlMs;
    for (let remaining = claimTtlMs; remaining > 0; remaining = deadline - Date.now()) {
      try {
        await sleep(Math.min(remaining, 1000), this.#stopping.signal);
      } catch {
        return 'closing';
      }
      if (await this.#claim(claim, message)) return true;
    }
    return false;
  }

  async #release(claim: string | undefined): Promise<void> {
    if (claim === undefined || !this.#config.idempotency) return;
    try {
      await this.#config.idempotency.store.release(claim);
    } catch (error) {
      this.#host.logger.warn({ err: error, topic: this.topic, claim }, 'contractbus: idempotency store failed to release a claim');
    }
  }

  /** #settle for an ack whose slot is already free; one promise per message, not two. */
  async #settleUnconfirmed(ack: Promise<void>, message: WireMessage): Promise<void> {
    try {
      await ack;
    } catch (error) {
      this.#settleFailed(error, message, 'ack');
    }
    this.#ackConfirmed();
  }

  #ackConfirmed(): void {
    this.#unconfirmedAcks--;
    if (this.#unconfirmedAcks > 0 || this.#ackWaiters.length === 0) return;
    const waiters = this.#ackWaiters;
    this.#ackWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once every ack sent so far was confirmed or failed (#settle never rejects). */
  #acksConfirmed(): Promise<void> {
    if (this.#unconfirmedAcks === 0) return Promise.resolve();
    return new Promise((resolve) => this.#ackWaiters.push(resolve));
  }

  #requeue(delivery: Delivery): Promise<void> {
    return this.#settle(delivery.nack({ requeue: true }), delivery.message, 'requeue');
  }

  /** Settlement failures (connection lost) mean the broker redelivers: log, never throw. */
  async #settle(settlement: Promise<void>, message: WireMessage, what: string): Promise<void> {
    try {
      await settlement;
    } catch (error) {
      this.#settleFailed(error, message, what);
    }
  }

  #settleFailed(error: unknown, message: WireMessage, what: string): void {
    this.#host.recorder.connectionError(error);
    this.#host.logger.warn({ err: error, topic: message.topic, messageId: message.messageId }, `contractbus: ${what} failed; the broker will redeliver`);
  }
}

interface DeadLetterer {
  deadLetterNow(context: DeliveryContext, error: unknown, reason: string): Promise<void>;
}

/** Settlement guard and failure times, shared by the metadata objects of one delivery's attempts. */
interface DeliveryState {
  settlement: Promise<void> | undefined;
  /** The handler asked for redelivery (manual mode): the message was not handled. */
  requeued?: boolean;
  firstFailureAt: number | undefined;
  lastFailureAt: number | undefined;
}

/** The metadata a handler sees (one per attempt); also the once-only ack/nack guard of the delivery. */
export class DeliveryContext implements MessageMetadata {
  readonly delivery: Delivery;
  readonly message: WireMessage;
  readonly attempt: number;
  readonly #pipeline: DeadLetterer;
  readonly #state: DeliveryState;
  #timestamp: Date | undefined;

  constructor(pipeline: DeadLetterer, delivery: Delivery, attempt: number, state?: DeliveryState) {
    this.#pipeline = pipeline;
    this.delivery = delivery;
    this.message = delivery.message;
    this.attempt = attempt;
    this.#state = state ?? { settlement: undefined, firstFailureAt: undefined, lastFailureAt: undefined };
  }

  nextAttempt(): DeliveryContext {
    return new DeliveryContext(this.#pipeline, this.delivery, this.attempt + 1, this.#state);
  }

  get firstFailureAt(): number | undefined {
    return this.#state.firstFailureAt;
  }
  set firstFailureAt(value: number | undefined) {
    this.#state.firstFailureAt = value;
  }
  get lastFailureAt(): number | undefined {
    return this.#state.lastFailureAt;
  }
  set lastFailureAt(value: number | undefined) {
    this.#state.lastFailureAt = value;
  }

  get messageId(): string {
    return this.message.messageId;
  }
  get correlationId(): string | undefined {
    return this.message.correlationId;
  }
  get headers(): Readonly<Headers> {
    return this.message.headers;
  }
  get topic(): string {
    return this.message.topic;
  }
  get key(): string | undefined {
    return this.message.key;
  }
  get timestamp(): Date {
    this.#timestamp ??= new Date(this.message.timestamp);
    return this.#timestamp;
  }
  get redelivered(): boolean {
    return this.attempt > 1 || this.delivery.deliveryCount > 1;
  }
  get settled(): boolean {
    return this.#state.settlement !== undefined;
  }
  get requeued(): boolean {
    return this.#state.requeued === true;
  }

  /** The once-only guard: the first settlement runs, later calls get the same promise. */
  settleWith(run: () => Promise<void>): Promise<void> {
    this.#state.settlement ??= run();
    return this.#state.settlement;
  }

  ack(): Promise<void> {
    return this.settleWith(() => this.delivery.ack());
  }

  /** requeue (default true): deliver again, after `delayMs` where the broker supports it. false: dead-letter. */
  nack(options: NackOptions = {}): Promise<void> {
    if (options.requeue === false) {
      const reason = options.reason ?? 'rejected by handler';
      return this.settleWith(() => this.#pipeline.deadLetterNow(this, new Error(reason), reason));
    }
    const delayMs = options.delayMs;
    if (this.#state.settlement === undefined) this.#state.requeued = true;
    return this.settleWith(() => (delayMs === undefined ? this.delivery.nack({ requeue: true }) : this.delivery.nack({ requeue: true, delayMs })));
  }
}

function startAttempt(delivery: Delivery): number {
  const header = delivery.message.headers[HEADER.attempt];
  const carried = header === undefined ? 0 : Number.parseInt(header, 10);
  const count = delivery.deliveryCount >= 1 ? delivery.deliveryCount : 1;
  return Number.isFinite(carried) && carried > count ? carried : count;
}

function asValidationError(error: unknown, topic: string, broker: string): ValidationError {
  if (error instanceof ValidationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ValidationError(`Incoming message on topic "${topic}" failed validation`, [{ path: [], message }], { direction: 'incoming', topic, broker, cause: error });
}

/** The first handler call of a delivery, made on the fast path: #attempts finishes from here. */
interface FirstCall {
  started: number;
  threw: boolean;
  error: unknown;
  result: unknown;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
