/**
 * `RabbitMQClient`: the generic `MessageBroker` (BrokerClient over RabbitMQTransport) plus the
 * native AMQP extras of the seed API: declareExchange / declareQueue / bindQueue, publish with
 * AMQP options (mandatory, confirm, persistent, expiration, exchange), and consumption of any
 * queue with explicit ackMessage / nackMessage by delivery tag.
 */
import type { ChannelModel } from 'amqplib';
import { BrokerClient, type BrokerClientOptions, type ReplayOptions } from '../../core/client.ts';
import { ConfigurationError } from '../../core/errors.ts';
import type { Headers, MessageBroker, MessageHandler, PublishOptions, PublishReceipt, SubscribeOptions, Subscription } from '../../core/types.ts';
import type { RabbitMQOptions } from './options.ts';
import { RabbitMQTransport, type AmqpSendOptions, type DeclareExchangeOptions, type DeclareQueueOptions, type RawDelivery } from './transport.ts';
import type { ExchangeType } from './options.ts';
import type { Delivery, TransportSubscription } from '../../core/transport.ts';

export interface RabbitMQClientOptions extends RabbitMQOptions, BrokerClientOptions {}

export interface RabbitMQPublishOptions extends PublishOptions, AmqpSendOptions {}

/** A message from `consume(queue, …)`. `deliveryTag` is for `ackMessage` / `nackMessage`. */
export interface RabbitMQMessage<T = unknown> {
  /** Decoded payload (JSON by default); `undefined` when it could not be decoded (see `decodeError`). */
  content: T;
  decodeError: unknown;
  /** The raw bytes. */
  body: Uint8Array;
  /** Unique within this client (not RabbitMQ's per-channel tag, which a reconnect reuses). */
  deliveryTag: number;
  messageId: string;
  correlationId: string | undefined;
  routingKey: string;
  exchange: string;
  headers: Readonly<Headers>;
  priority: number | undefined;
  timestamp: Date;
  redelivered: boolean;
  deliveryCount: number;
  /** The AMQP message as amqplib delivered it (raw properties, x-death, …). */
  raw: RawDelivery['raw'];
}

export interface RabbitMQConsumeOptions {
  /** Unacked deliveries RabbitMQ may push ahead. Default: max(concurrency * 2, client prefetch). */
  prefetch?: number;
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /**
   * true: ack when the handler resolves, reject without requeue when it throws (RabbitMQ then
   * dead-letters it if the queue has an x-dead-letter-exchange, else drops it; never a hot
   * requeue loop). false (default): call `ackMessage` / `nackMessage` yourself.
   */
  autoAck?: boolean;
  /** basic.consume arguments, e.g. { 'x-priority': 10 } for consumer priority. */
  arguments?: Record<string, unknown>;
}

export type RabbitMQConsumeHandler<T = unknown> = (message: RabbitMQMessage<T>) => Promise<void> | void;

export interface RabbitMQConsumer {
  readonly queue: string;
  /** Stops taking deliveries, waits for running handlers (up to `timeoutMs`), then cancels. Unacked ones return to the queue. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export class RabbitMQClient extends BrokerClient {
  readonly #rabbit: RabbitMQTransport;
  readonly #subscribeDefaults: Pick<SubscribeOptions, 'enableDlq' | 'dlqSuffix' | 'maxRetries'>;
  readonly #open = new Map<number, RawDelivery>();
  #nextTag = 0;

  /** Options, an `amqp(s)://` URL, or an open amqplib connection (not reconnected, not closed by us). */
  constructor(options: RabbitMQClientOptions | string | URL | ChannelModel = {}) {
    const resolved: RabbitMQClientOptions = typeof options === 'string' || options instanceof URL ? { url: options } : isChannelModel(options) ? { connection: options } : options;
    const transport = new RabbitMQTransport(resolved);
    super(transport, resolved);
    this.#rabbit = transport;
    this.#subscribeDefaults = {
      ...(resolved.enableDlq === undefined ? {} : { enableDlq: resolved.enableDlq }),
      ...(resolved.dlqSuffix === undefined ? {} : { dlqSuffix: resolved.dlqSuffix }),
      ...(resolved.maxRetries === undefined ? {} : { maxRetries: resolved.maxRetries }),
    };
  }

  /** The transport underneath (connection state, queue depths, raw consumption). */
  get rabbitmq(): RabbitMQTransport {
    return this.#rabbit;
  }

  /**
   * Publishes to the client's exchange with `topic` as the routing key (or to `options.exchange`).
   * Resolves once RabbitMQ confirmed it. A message no queue is bound for is dropped by RabbitMQ
   * and counted (health: `unroutable`); with `mandatory: true` (here or on the client) it fails
   * with `UnroutableError` instead. `expiration` is a relative TTL in ms (AMQP's
   * own unit); `ttl` is the generic one in seconds.
   */
  override publish(topic: string, message: unknown, options: RabbitMQPublishOptions = {}): Promise<PublishReceipt> {
    // Hot path: no AMQP extras, so the options go through as they are (no rest-spread copy per publish).
    if (options.mandatory === undefined && options.confirm === undefined && options.persistent === undefined && options.expiration === undefined && options.exchange === undefined) {
      return super.publish(topic, message, options);
    }
    const { mandatory, confirm, persistent, expiration, exchange, ...generic } = options;
    if (expiration !== undefined && !(Number.isFinite(expiration) && expiration >= 0)) {
      return Promise.reject(new ConfigurationError(`expiration on routing key '${topic}' must be a number of ms >= 0, got ${String(expiration)}`, { broker: 'rabbitmq', topic }));
    }
    const amqp: AmqpSendOptions = {};
    if (mandatory !== undefined) amqp.mandatory = mandatory;
    if (confirm !== undefined) amqp.confirm = confirm;
    if (persistent !== undefined) amqp.persistent = persistent;
    if (expiration !== undefined) amqp.expiration = expiration;
    if (exchange !== undefined) amqp.exchange = exchange;
    // BrokerClient builds the wire message; the AMQP settings travel beside it, keyed by message id.
    const messageId = generic.messageId ?? crypto.randomUUID();
    this.#rabbit.stageSendOptions(messageId, amqp);
    return super.publish(topic, message, { ...generic, messageId }).finally(() => this.#rabbit.unstageSendOptions(messageId));
  }

  override subscribe<T = unknown>(topic: string, handler: MessageHandler<T>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    return super.subscribe(topic, handler, { ...this.#subscribeDefaults, ...options });
  }

  /**
   * Dead letters are kept in the durable queue named after the dead-letter topic (declared before
   * the first one is sent), so replay reads that queue: a new consumer group's queue would start
   * empty on RabbitMQ. `options.group` is not needed here. Each message is acked only after its
   * republish was confirmed. Falls back to the generic replay when no such queue exists.
   */
  protected override async openDeadLetterSource(deadLetterTopic: string, options: ReplayOptions, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    if ((await this.#rabbit.queueDepth(deadLetterTopic)) === undefined) return super.openDeadLetterSource(deadLetterTopic, options, onDelivery);
    return this.#rabbit.consumeQueue(deadLetterTopic, (delivery) => void onDelivery(delivery), { prefetch: 1 });
  }

  declareExchange(name: string, type: ExchangeType | string = 'topic', options: DeclareExchangeOptions = {}): Promise<void> {
    return this.#rabbit.declareExchange(name, type, options);
  }

  /**
   * Declares (and remembers, to declare again after a reconnect) a queue. Arguments are RabbitMQ's:
   * x-dead-letter-exchange, x-dead-letter-routing-key, x-message-ttl, x-max-priority,
   * x-queue-type ('quorum'), x-delivery-limit, x-expires, x-max-length, …
   */
  declareQueue(name: string, options: DeclareQueueOptions = {}): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    return this.#rabbit.declareQueue(name, options);
  }

  bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    return this.#rabbit.bindQueue(queue, exchange, routingKey, args);
  }

  deleteQueue(queue: string): Promise<void> {
    return this.#rabbit.deleteQueue(queue);
  }

  deleteExchange(name: string): Promise<void> {
    return this.#rabbit.deleteExchange(name);
  }

  /** Messages ready in a queue (passive declare), or undefined if it does not exist. */
  async queueDepth(queue: string): Promise<number | undefined> {
    return (await this.#rabbit.queueDepth(queue))?.messageCount;
  }

  /** Consumes any queue, with manual acks by default (`ackMessage` / `nackMessage`). */
  async consume<T = unknown>(queue: string, handler: RabbitMQConsumeHandler<T>, options: RabbitMQConsumeOptions = {}): Promise<RabbitMQConsumer> {
    if (!this.connected) throw new ConfigurationError(`Cannot consume queue '${queue}': the RabbitMQ client is not connected`, { broker: 'rabbitmq', hint: 'Await connect() first' });
    const concurrency = options.concurrency ?? 1;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new ConfigurationError(`concurrency for queue '${queue}' must be an integer >= 1, got ${String(concurrency)}`, { broker: 'rabbitmq' });
    const prefetch = options.prefetch ?? Math.max(concurrency * 2, this.#rabbit.options.prefetch);
    const autoAck = options.autoAck ?? false;
    const waiting: RawDelivery[] = [];
    let running = 0;
    let closing = false;
    let idle: (() => void) | undefined;
    const run = (delivery: RawDelivery): void => {
      running++;
      const tag = ++this.#nextTag;
      this.#open.set(tag, delivery);
      const message = this.#toMessage<T>(delivery, tag);
      void (async () => {
        try {
          await handler(message);
          if (autoAck) await this.ackMessage(tag).catch(() => undefined);
        } catch (error) {
          this.logger.warn({ err: error, queue, messageId: message.messageId }, 'contractbus: RabbitMQ consume handler failed');
          if (autoAck) await this.nackMessage(tag, { requeue: false }).catch(() => undefined);
        } finally {
          running--;
          const next = closing ? undefined : waiting.shift();
          if (next) run(next);
          else if (running === 0) idle?.();
        }
      })();
    };
    const subscription = await this.#rabbit.consumeQueue(
      queue,
      (delivery) => {
        if (closing) {
          void delivery.nack({ requeue: true });
          return;
        }
        if (running < concurrency) run(delivery);
        else waiting.push(delivery);
      },
      { prefetch, ...(options.arguments ? { arguments: options.arguments } : {}) },
    );
    const close = async (closeOptions: { timeoutMs?: number } = {}): Promise<void> => {
      if (closing) return;
      closing = true;
      await subscription.pause();
      for (const delivery of waiting.splice(0)) await delivery.nack({ requeue: true });
      if (running > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, closeOptions.timeoutMs ?? 30_000);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await subscription.close();
    };
    return { queue, close, [Symbol.asyncDispose]: () => close() };
  }

  /** Acks a delivery from `consume`. A tag from a channel that has since died is dropped (RabbitMQ redelivers). */
  async ackMessage(deliveryTag: number): Promise<void> {
    const delivery = this.#take(deliveryTag);
    await delivery.ack();
  }

  /** requeue false (default): dead-letter via the queue's x-dead-letter-exchange, or drop. delayMs: redeliver later through a TTL retry queue. */
  async nackMessage(deliveryTag: number, options: { requeue?: boolean; delayMs?: number } = {}): Promise<void> {
    const delivery = this.#take(deliveryTag);
    await delivery.nack(options);
  }

  #take(deliveryTag: number): RawDelivery {
    const delivery = this.#open.get(deliveryTag);
    if (!delivery) {
      throw new ConfigurationError(`Unknown or already settled RabbitMQ delivery tag ${deliveryTag}`, { broker: 'rabbitmq', hint: 'Each delivery is acked or nacked once, with the deliveryTag from consume()' });
    }
    this.#open.delete(deliveryTag);
    return delivery;
  }

  #toMessage<T>(delivery: RawDelivery, deliveryTag: number): RabbitMQMessage<T> {
    const wire = delivery.message;
    let content: unknown;
    let decodeError: unknown;
    try {
      content = this.codec.decode(wire.body, { topic: wire.topic, broker: 'rabbitmq' });
    } catch (error) {
      decodeError = error;
    }
    return {
      content: content as T,
      decodeError,
      body: wire.body,
      deliveryTag,
      messageId: wire.messageId,
      correlationId: wire.correlationId,
      routingKey: delivery.routingKey,
      exchange: delivery.exchange,
      headers: wire.headers,
      priority: wire.priority,
      timestamp: new Date(wire.timestamp),
      redelivered: delivery.redelivered,
      deliveryCount: delivery.deliveryCount,
      raw: delivery.raw,
    };
  }
}

/** Used by `connect('amqp://…')`. */
export function fromUrl(url: URL, options: RabbitMQClientOptions = {}): MessageBroker {
  return new RabbitMQClient({ ...options, url });
}

function isChannelModel(value: unknown): value is ChannelModel {
  return typeof value === 'object' && value !== null && typeof (value as { createConfirmChannel?: unknown }).createConfirmChannel === 'function';
}
