/**
 * RabbitMQ as a contractbus `Transport`: topics are routing keys on one exchange (topic type by
 * default), a consumer group is a durable queue bound to it, acks are manual, publishes confirmed.
 *
 * Queue naming (documented in the README):
 * - `subscribe(topic, { group })` → durable queue `<group>.<topic>` bound with routing key `<topic>`;
 *   every subscriber of the group competes on it; it outlives the subscription (messages published
 *   while nobody consumes are kept for the group).
 * - no group → a private queue `contractbus.private.<topic>.<id>`, durable so it survives a
 *   reconnect or broker restart, deleted on close, and removed by RabbitMQ (`x-expires`) if the
 *   process dies without closing it.
 * - dead letters (messages carrying the dead-letter reason header) → a durable queue named after
 *   the dead-letter topic is declared and bound before the first one is sent, so a dead letter is
 *   never dropped for want of a subscriber.
 * - delayed redelivery → `<queue>.retry.<ms>` TTL queues (retry-queues.ts).
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { BufferFullError, ConfigurationError, ConnectionError, PublishError, TimeoutError } from '../../core/errors.ts';
import { BoundedPublishBuffer } from '../../reliability/publish-buffer.ts';
import { HEADER } from '../../core/headers.ts';
import type { BrokerCapabilities, HealthStatus } from '../../core/types.ts';
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from '../../core/transport.ts';
import { AmqpConnection } from './connection.ts';
import { QueueConsumer, type ConsumerChannel } from './consumer.ts';
import { resolveOptions, type ExchangeType, type RabbitMQOptions, type ResolvedOptions } from './options.ts';
import { ChannelClosedError, Publisher, type PublishRequest } from './publisher.ts';
import { delayBucket, RETRY_QUEUE_REASSERT_MS, retryQueueName, retryQueueOptions } from './retry-queues.ts';
import { Topology, TopologyError } from './topology.ts';
import { AmqpDelivery, type ParkForRetry } from './delivery.ts';
import { toPublishOptions, TOPIC_HEADER } from './wire.ts';

/** Per-publish AMQP settings beyond the generic `PublishOptions`. */
export interface AmqpSendOptions {
  exchange?: string;
  /**
   * true: a message no queue is bound for fails with UnroutableError. false: plain AMQP publish
   * without the mandatory flag. Default: the client's `mandatory` (false: the publish is flagged
   * mandatory so RabbitMQ reports it, and it is counted in health as `unroutable`, not failed).
   */
  mandatory?: boolean;
  /** Default: the client's `confirm` (true). */
  confirm?: boolean;
  /** Default: the client's `persistent` (true). */
  persistent?: boolean;
  /** Relative TTL in ms (AMQP `expiration`); overrides the message's `expiresAt`. */
  expiration?: number;
}

interface BufferedPublish {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface SendOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  amqp?: AmqpSendOptions;
}

export interface DeclareQueueOptions {
  durable?: boolean;
  autoDelete?: boolean;
  exclusive?: boolean;
  /** x-dead-letter-exchange, x-dead-letter-routing-key, x-message-ttl, x-max-priority, x-queue-type, x-delivery-limit, … */
  arguments?: Record<string, unknown>;
}

export interface DeclareExchangeOptions {
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  alternateExchange?: string;
  arguments?: Record<string, unknown>;
}

/** A delivery of the native `consumeQueue` API: the generic one plus the AMQP message. */
export type RawDelivery = AmqpDelivery;

export interface RawConsumeOptions {
  prefetch?: number;
  /** Extra basic.consume arguments. */
  arguments?: Record<string, unknown>;
}

export class RabbitMQTransport implements Transport {
  readonly name = 'rabbitmq';
  readonly capabilities: BrokerCapabilities;
  readonly options: ResolvedOptions;
  readonly connection: AmqpConnection;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly consumers = new Set<QueueConsumer>();
  private readonly retryQueuesAsserted = new Map<string, number>();
  private readonly deadLetterQueues = new Set<string>();
  private readonly waiting: BoundedPublishBuffer<BufferedPublish>;
  private connectPromise: Promise<void> | undefined;
  private readonly staged = new Map<string, AmqpSendOptions>();
  private restoreIssues: string[] = [];
  private everConnected = false;

  constructor(options: RabbitMQOptions | string | URL = {}) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.capabilities = Object.freeze({
      deliveryGuarantee: 'at-least-once',
      durable: true,
      consumerGroups: true,
      patternSubscribe: o.exchangeType === 'topic',
      // FIFO per queue, but competing consumers and requeues reorder: no per-key promise.
      orderingByKey: false,
      nativeHeaders: true,
      nativeTtl: true,
      // Only queues declared with x-max-priority honour priority.
      nativePriority: o.maxPriority !== undefined,
      // Queues declared through declareQueue can dead-letter natively (x-dead-letter-exchange), but
      // subscription queues leave dead-lettering to the shared layer (reason headers, no duplicates).
      nativeDeadLetter: false,
      delayedRedelivery: true,
      redeliveryOnCrash: true,
      // A new group's queue starts empty: RabbitMQ keeps messages only in queues that existed.
      retainsHistory: false,
    } satisfies BrokerCapabilities);
    this.waiting = new BoundedPublishBuffer<BufferedPublish>({
      maxMessages: o.publishBufferSize,
      maxBytes: o.publishBufferBytes,
      broker: 'rabbitmq',
      onExpire: (waiter, error) => waiter.reject(new TimeoutError(`RabbitMQ stayed unreachable: ${error.message}`, { broker: 'rabbitmq', cause: this.connection.lastError, hint: `Check RabbitMQ at ${this.connection.describeEndpoints()}` })),
    });
    this.topology = new Topology(o.connectTimeoutMs);
    this.publisher = new Publisher(o.connectTimeoutMs);
    this.connection = new AmqpConnection(o, {
      onLost: () => {
        this.publisher.invalidate();
        this.retryQueuesAsserted.clear();
        for (const consumer of this.consumers) consumer.connectionLost();
      },
      onFailed: (error) => {
        for (const waiter of this.waiting.clear()) waiter.reject(error);
      },
      onBlocked: (reason) => this.publisher.setBlocked(reason),
      onUnblocked: () => this.publisher.setBlocked(undefined),
    });
    this.connection.addRestoreHook(async (model) => {
      const refused = await this.topology.restore(model);
      // On the first connect a refusal is a configuration error (e.g. the exchange exists with another type): fail connect().
      if (!this.everConnected && refused[0]) throw refused[0];
      this.restoreIssues = refused.map((error) => error.message);
    });
    this.connection.addRestoreHook((model) => this.publisher.restore(model));
    this.connection.addRestoreHook(async (model) => {
      // One consumer that cannot start (its queue refused) retries on its own; the others and
      // publishing go on.
      for (const consumer of this.consumers) {
        try {
          await consumer.start(model);
        } catch (error) {
          if (!(error instanceof TopologyError)) throw error;
          consumer.retryLater(model);
        }
      }
    });
    this.connection.addReadyListener(() => {
      this.everConnected = true;
      this.flushWaiting();
    });
  }

  async connect(): Promise<void> {
    if (this.connection.state === 'connected') return;
    this.connectPromise ??= (async () => {
      // The main exchange is remembered, so every reconnect declares it again.
      this.topology.rememberExchange({ name: this.options.exchangeName, type: this.options.exchangeType, options: { durable: true } });
      await this.connection.connect();
    })().finally(() => {
      this.connectPromise = undefined;
    });
    return this.connectPromise;
  }

  async close(): Promise<void> {
    const closed = new ConnectionError('RabbitMQ client closed while the publish waited for the connection', { broker: 'rabbitmq' });
    for (const waiter of this.waiting.clear()) waiter.reject(closed);
    for (const consumer of this.consumers) await consumer.close();
    this.consumers.clear();
    await this.publisher.close();
    // A borrowed connection stays open: leave no channel of ours on it.
    await this.topology.close();
    await this.connection.close();
  }

  // ---- publishing -------------------------------------------------------------------------

  /**
   * AMQP settings for the next `send` of `messageId`: lets RabbitMQClient.publish pass them through
   * BrokerClient.publish, which only knows the generic options.
   */
  stageSendOptions(messageId: string, options: AmqpSendOptions): void {
    this.staged.set(messageId, options);
  }

  unstageSendOptions(messageId: string): void {
    this.staged.delete(messageId);
  }

  async send(message: WireMessage, options: SendOptions): Promise<{ partition?: number; offset?: string }> {
    // Hot path: no map lookup (hashing a fresh id string) and no object when nothing is staged.
    const amqp = options.amqp ?? (this.staged.size === 0 ? NO_AMQP_OPTIONS : (this.staged.get(message.messageId) ?? NO_AMQP_OPTIONS));
    const exchange = amqp.exchange ?? this.options.exchangeName;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long topic needs counting.
    if (message.topic.length > 85 && Buffer.byteLength(message.topic) > 255) {
      throw new PublishError(`RabbitMQ routing key for topic '${message.topic.slice(0, 40)}…' is longer than 255 bytes`, { broker: 'rabbitmq', topic: message.topic, hint: 'Use a shorter topic name' });
    }
    const deadline = Date.now() + options.timeoutMs;
    const failUnroutable = amqp.mandatory ?? this.options.mandatory;
    const publishOptions = toPublishOptions(message, { persistent: amqp.persistent ?? this.options.persistent, mandatory: amqp.mandatory !== false });
    if (amqp.expiration !== undefined) publishOptions.expiration = String(Math.max(0, Math.round(amqp.expiration)));
    const content = toBuffer(message.body);
    for (;;) {
      const remaining = deadline - Date.now();
      const model = this.connection.current ?? (await this.ready(message.topic, content.byteLength, { timeoutMs: Math.max(1, remaining), ...(options.signal ? { signal: options.signal } : {}) }));
      try {
        if (message.headers[HEADER.dlqReason] !== undefined && exchange === this.options.exchangeName) await this.ensureDeadLetterQueue(model, message.topic);
        const request: PublishRequest = {
          exchange,
          routingKey: message.topic,
          content,
          options: publishOptions,
          confirm: amqp.confirm ?? this.options.confirm,
          failUnroutable,
          timeoutMs: Math.max(1, deadline - Date.now()),
          topic: message.topic,
        };
        if (options.signal) request.signal = options.signal;
        await this.publisher.publish(request);
        break;
      } catch (error) {
        // The connection died under an unconfirmed publish: RabbitMQ may or may not have it. Send it
        // again on the new connection while time is left (a possible duplicate, never a silent loss).
        const lost = (error instanceof ChannelClosedError && !error.refusedByBroker) || (error instanceof TopologyError && this.connection.state !== 'connected');
        if (!lost || deadline - Date.now() <= 0 || options.signal?.aborted) throw error;
        if (this.connection.state === 'connected' && this.connection.current === model) await new Promise((r) => setTimeout(r, 10));
      }
    }
    return {};
  }

  /**
   * Waits for the connection while it is being re-established (bounded: at most
   * `publishBufferSize` publishes wait, each until its own timeout), fails fast when it is down for good.
   */
  private async ready(topic: string, bytes: number, options: { timeoutMs: number; signal?: AbortSignal }): Promise<ChannelModel> {
    const current = this.connection.current;
    if (current) return current;
    const state = this.connection.state;
    if (state !== 'reconnecting' && state !== 'connecting') {
      throw new ConnectionError(`RabbitMQ publish to '${topic}' failed: the client is ${state}`, { broker: 'rabbitmq', topic, cause: this.connection.lastError, hint: state === 'idle' ? 'Call connect() first' : 'Create a new client; reconnection is not running' });
    }
    // Each waiting publish holds a slot in the shared bounded buffer until the connection is back
    // or its own deadline passes; past the bound it fails at once.
    await new Promise<void>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => waiter.reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      // An aborted waiter keeps its slot until the flush or its deadline: settling twice is a no-op.
      const waiter: BufferedPublish = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      try {
        this.waiting.push(waiter, bytes, { deadline: Date.now() + options.timeoutMs, topic });
      } catch (error) {
        reject(error instanceof BufferFullError ? new BufferFullError(`RabbitMQ is unreachable and the publish buffer is full (${this.waiting.size} publishes, ${this.waiting.bytes} bytes waiting)`, { broker: 'rabbitmq', topic, cause: this.connection.lastError, hint: `Check RabbitMQ at ${this.connection.describeEndpoints()}; raise publishBufferSize or slow down` }) : error);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const model = this.connection.current;
    if (!model) throw new ConnectionError(`RabbitMQ publish to '${topic}' failed: connection lost again`, { broker: 'rabbitmq', topic });
    return model;
  }

  private flushWaiting(): void {
    for (const waiter of this.waiting.drain()) waiter.resolve();
  }

  private async ensureDeadLetterQueue(model: ChannelModel, topic: string): Promise<void> {
    if (this.deadLetterQueues.has(topic)) return;
    try {
      await this.topology.declareQueue(model, { name: topic, options: this.queueOptions({ durable: true }) });
    } catch (error) {
      // Declared earlier with other arguments (another client's maxPriority or queueType): any
      // existing queue keeps dead letters just as well, so use it rather than fail the dead-lettering.
      if (!(error instanceof TopologyError) || (await this.topology.inspectQueue(model, topic)) === undefined) throw error;
    }
    await this.topology.bindQueue(model, { queue: topic, exchange: this.options.exchangeName, routingKey: topic });
    this.deadLetterQueues.add(topic);
  }

  // ---- consuming --------------------------------------------------------------------------

  async consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    const model = this.requireConnection(spec.topic);
    if (!this.capabilities.patternSubscribe && /(^|\.)[*#](\.|$)/.test(spec.topic)) {
      throw new ConfigurationError(`RabbitMQ exchange type '${this.options.exchangeType}' cannot match the pattern '${spec.topic}'`, { broker: 'rabbitmq', topic: spec.topic, hint: "Use exchangeType 'topic' for * and # patterns" });
    }
    const privateQueue = spec.group === undefined;
    const queue = privateQueue ? `contractbus.private.${spec.topic}.${randomUUID().slice(0, 8)}` : `${spec.group}.${spec.topic}`;
    if (Buffer.byteLength(queue) > 240) {
      throw new ConfigurationError(`RabbitMQ queue name for topic '${spec.topic}' and group '${spec.group ?? ''}' is too long (limit 255 bytes, with room for .retry.<ms>)`, { broker: 'rabbitmq', topic: spec.topic, hint: 'Use a shorter group or topic name' });
    }
    const queueOptions = privateQueue
      ? this.queueOptions({ durable: true, arguments: { 'x-expires': this.options.privateQueueExpiresMs } }, 'classic')
      : this.queueOptions({ durable: true, arguments: { ...this.options.groupQueueArguments } });
    const binding = { queue, exchange: this.options.exchangeName, routingKey: routingKeyFor(spec.topic, this.options.exchangeType) };
    const declare = async (m: ChannelModel): Promise<void> => {
      await this.topology.declareQueue(m, { name: queue, options: queueOptions });
      await this.topology.bindQueue(m, binding);
    };
    const consumer = this.createConsumer(queue, spec.prefetch, (msg, via) => {
      void onDelivery(new AmqpDelivery(consumer, msg, via, this.park)).catch(() => undefined);
    }, declare);
    // start() declares the queue and binding first (and again before every reopen).
    await this.startOrDiscard(consumer, model);
    this.consumers.add(consumer);
    return {
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.close();
        // The group queue stays on the broker (it keeps messages for the group), but once no
        // subscription of ours uses it, it is not declared again after a reconnect.
        if (![...this.consumers].some((other) => other.queue === queue)) this.topology.forgetQueue(queue);
        if (privateQueue) {
          const current = this.connection.current;
          // Its retry buckets expire on their own (x-expires).
          if (current) await this.topology.deleteQueue(current, queue).catch(() => undefined);
        }
      },
    };
  }

  /** Native consumption from any queue (declared by you or by someone else). */
  async consumeQueue(queue: string, onDelivery: (delivery: RawDelivery) => void, options: RawConsumeOptions = {}): Promise<TransportSubscription> {
    const model = this.requireConnection(queue);
    const consumer = this.createConsumer(queue, options.prefetch ?? this.options.prefetch, (msg, via) => onDelivery(new AmqpDelivery(consumer, msg, via, this.park)), undefined, options.arguments);
    await this.startOrDiscard(consumer, model);
    this.consumers.add(consumer);
    return {
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.close();
      },
    };
  }

  /** A consumer that failed to start must not leave a channel behind. */
  private async startOrDiscard(consumer: QueueConsumer, model: ChannelModel): Promise<void> {
    try {
      await consumer.start(model);
    } catch (error) {
      await consumer.close();
      throw error;
    }
  }

  private createConsumer(queue: string, prefetch: number, onMessage: (msg: ConsumeMessage, via: ConsumerChannel) => void, prepare?: (model: ChannelModel) => Promise<void>, consumeArguments?: Record<string, unknown>): QueueConsumer {
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65_535) {
      throw new ConfigurationError(`RabbitMQ prefetch for '${queue}' must be an integer in 1–65535, got ${String(prefetch)}`, { broker: 'rabbitmq', hint: 'Unbounded prefetch (0) is refused on purpose' });
    }
    return new QueueConsumer({
      queue,
      prefetch,
      onMessage,
      timeoutMs: this.options.connectTimeoutMs,
      ...(prepare ? { prepare } : {}),
      ...(consumeArguments ? { consumeArguments } : {}),
    });
  }

  private readonly park: ParkForRetry = (queue, msg, topic, deliveryCount, delayMs) => this.parkForRetry(queue, msg, topic, deliveryCount, delayMs);

  private async parkForRetry(queue: string, msg: ConsumeMessage, topic: string, deliveryCount: number, delayMs: number): Promise<void> {
    const model = this.connection.current;
    if (!model) throw new ConnectionError('RabbitMQ not connected', { broker: 'rabbitmq' });
    const bucket = delayBucket(delayMs);
    const retryQueue = retryQueueName(queue, bucket);
    const asserted = this.retryQueuesAsserted.get(retryQueue);
    if (asserted === undefined || Date.now() - asserted > RETRY_QUEUE_REASSERT_MS) {
      await this.topology.declareQueue(model, { name: retryQueue, options: retryQueueOptions(queue, bucket) }, { remember: false });
      this.retryQueuesAsserted.set(retryQueue, Date.now());
    }
    const { properties } = msg;
    const headers: Record<string, unknown> = { ...(properties.headers ?? {}) };
    delete headers['x-death'];
    delete headers['x-delivery-count'];
    headers[HEADER.attempt] = String(deliveryCount + 1);
    headers[TOPIC_HEADER] = topic;
    const options: Options.Publish = { headers, mandatory: true, deliveryMode: properties.deliveryMode ?? 2 };
    for (const name of ['messageId', 'correlationId', 'contentType', 'contentEncoding', 'timestamp', 'priority', 'type', 'appId', 'replyTo'] as const) {
      const value: unknown = properties[name];
      if (value !== undefined && value !== null) (options as Record<string, unknown>)[name] = value;
    }
    await this.publisher.publish({ exchange: '', routingKey: retryQueue, content: msg.content, options, confirm: true, failUnroutable: true, timeoutMs: this.options.publishTimeoutMs, topic });
  }

  // ---- native topology ----------------------------------------------------------------------

  async declareExchange(name: string, type: ExchangeType | string = 'topic', options: DeclareExchangeOptions = {}): Promise<void> {
    const model = this.requireConnection(name);
    const assert: Options.AssertExchange = { durable: options.durable ?? true, autoDelete: options.autoDelete ?? false, internal: options.internal ?? false };
    if (options.alternateExchange !== undefined) assert.alternateExchange = options.alternateExchange;
    if (options.arguments !== undefined) assert.arguments = options.arguments;
    await this.topology.declareExchange(model, { name, type, options: assert });
  }

  async declareQueue(name: string, options: DeclareQueueOptions = {}): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    const model = this.requireConnection(name);
    const assert: Options.AssertQueue = { durable: options.durable ?? true, autoDelete: options.autoDelete ?? false, exclusive: options.exclusive ?? false };
    if (options.arguments !== undefined) assert.arguments = options.arguments;
    // Exclusive queues die with the connection: re-declaring one after a reconnect is still right,
    // but a server-named one gets a new name, so those are not remembered.
    return this.topology.declareQueue(model, { name, options: assert });
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    const model = this.requireConnection(queue);
    await this.topology.bindQueue(model, { queue, exchange, routingKey, ...(args ? { args } : {}) });
  }

  async deleteQueue(queue: string): Promise<void> {
    const model = this.requireConnection(queue);
    await this.topology.deleteQueue(model, queue);
  }

  async deleteExchange(name: string): Promise<void> {
    const model = this.requireConnection(name);
    await this.topology.deleteExchange(model, name);
  }

  async queueDepth(queue: string): Promise<{ messageCount: number; consumerCount: number } | undefined> {
    const model = this.connection.current;
    return model ? this.topology.inspectQueue(model, queue) : undefined;
  }

  // ---- health -------------------------------------------------------------------------------

  async health(): Promise<HealthStatus> {
    const issues: string[] = [];
    const c = this.connection;
    if (c.state !== 'connected') issues.push(`RabbitMQ connection is ${c.state}${c.lastError ? `: ${c.lastError.message}` : ''}`);
    for (const issue of this.restoreIssues) issues.push(`RabbitMQ refused to restore a declaration after reconnecting: ${issue}`);
    if (c.blocked !== undefined) issues.push(`RabbitMQ blocked the connection (${c.blocked}): publishes wait`);
    if (c.state === 'connected' && this.publisher.channelState !== 'open') issues.push('RabbitMQ publisher channel is closed (it reopens on the next publish)');
    const consumers = [...this.consumers].map((consumer) => ({
      queue: consumer.queue,
      state: consumer.state,
      unsettled: consumer.unsettled,
      delivered: consumer.delivered,
      staleSettles: consumer.staleSettles,
    }));
    for (const consumer of consumers) if (consumer.state === 'down' && c.state === 'connected') issues.push(`RabbitMQ consumer on '${consumer.queue}' is down (reopening)`);
    const depths: Record<string, number> = {};
    const model = c.current;
    if (model) {
      // Cheap enough for a handful of queues (one passive declare each); skipped for many.
      const queues = [...new Set(consumers.map((x) => x.queue))].slice(0, 20);
      for (const queue of queues) {
        const info = await this.topology.inspectQueue(model, queue);
        if (info) depths[queue] = info.messageCount;
      }
    }
    return {
      isHealthy: issues.length === 0,
      issues,
      details: {
        broker: 'rabbitmq',
        connection: c.state,
        endpoint: c.endpoint ? `${c.endpoint.protocol}://${c.endpoint.hostname}:${c.endpoint.port}` : undefined,
        generation: c.generation,
        reconnects: c.reconnects,
        connectionErrors: c.connectionErrors,
        blocked: c.blocked ?? false,
        publisherChannel: this.publisher.channelState,
        publishesInFlight: this.publisher.inFlight,
        writeBufferFull: this.publisher.writeBufferFull,
        publishesWaitingForConnection: this.waiting.size,
        unroutable: this.publisher.unroutable,
        lastUnroutable: this.publisher.lastUnroutable,
        consumers,
        queueDepths: depths,
      },
    };
  }

  private requireConnection(what: string): ChannelModel {
    const model = this.connection.current;
    if (!model) {
      throw new ConnectionError(`RabbitMQ is not connected (needed for '${what}')`, { broker: 'rabbitmq', cause: this.connection.lastError, hint: this.connection.state === 'idle' ? 'Call connect() first' : 'Wait for the reconnection, or check the broker' });
    }
    return model;
  }

  private queueOptions(base: Options.AssertQueue, forceType?: 'classic'): Options.AssertQueue {
    const args: Record<string, unknown> = { ...(base.arguments as Record<string, unknown> | undefined) };
    const type = forceType ?? this.options.queueType;
    if (type === 'quorum') args['x-queue-type'] = 'quorum';
    if (this.options.maxPriority !== undefined && type === 'classic') args['x-max-priority'] = this.options.maxPriority;
    return { ...base, arguments: args };
  }
}

const NO_AMQP_OPTIONS: AmqpSendOptions = Object.freeze({});

function routingKeyFor(topic: string, type: ExchangeType): string {
  // Fanout ignores the key; headers exchanges match on headers (bind natively with bindQueue for those).
  return type === 'fanout' ? '' : topic;
}

function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
