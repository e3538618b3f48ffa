/**
 * One consumer on one queue, on its own channel (a channel error then only costs this consumer,
 * and prefetch applies to it alone). Survives channel and connection loss: it is opened again on
 * the new connection. Delivery tags belong to the channel they came on, so every delivery keeps
 * a reference to its channel's generation; an ack for a channel that has since died is dropped
 * (RabbitMQ redelivers that message) instead of acking an unrelated tag on the new channel.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { errorHint, withTimeout } from './connection.ts';
import { TopologyError } from './topology.ts';

export interface ConsumerChannel {
  readonly channel: Channel;
  /** False once the channel closed: its delivery tags are void. */
  open: boolean;
}

export type MessageCallback = (message: ConsumeMessage, via: ConsumerChannel) => void;

export interface QueueConsumerOptions {
  queue: string;
  prefetch: number;
  onMessage: MessageCallback;
  /** Extra consume arguments (e.g. x-priority for consumer priority). */
  consumeArguments?: Record<string, unknown>;
  timeoutMs: number;
  /** A channel died while the connection stayed up (or the broker cancelled us): reopen after this delay. */
  reopenDelayMs?: number;
  onError?: (error: unknown) => void;
  /** Runs before every (re)open, e.g. to declare the queue again after the broker deleted it. */
  prepare?: (model: ChannelModel) => Promise<void>;
}

export class QueueConsumer {
  readonly queue: string;
  private current: ConsumerChannel | undefined;
  private consumerTag: string | undefined;
  private model: ChannelModel | undefined;
  private paused = false;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** Deliveries handed out and not settled, on any channel. */
  unsettled = 0;
  delivered = 0;
  /** Acks/nacks dropped because their channel had died (the broker redelivers those messages). */
  staleSettles = 0;
  cancelledByBroker = 0;
  lastError: unknown;
  private readonly options: QueueConsumerOptions;

  constructor(options: QueueConsumerOptions) {
    this.options = options;
    this.queue = options.queue;
  }

  get state(): 'consuming' | 'paused' | 'closed' | 'down' {
    if (this.closed) return 'closed';
    if (this.paused) return 'paused';
    return this.current?.open && this.consumerTag ? 'consuming' : 'down';
  }

  /** (Re)open on a (new) connection. */
  async start(model: ChannelModel): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.reopenTimer);
    this.model = model;
    this.detach();
    await this.options.prepare?.(model);
    const channel = await withTimeout(model.createChannel(), this.options.timeoutMs, 'RabbitMQ open consumer channel');
    const via: ConsumerChannel = { channel, open: true };
    channel.on('error', (error: unknown) => {
      this.lastError = error;
      this.options.onError?.(error);
    });
    channel.on('close', () => {
      via.open = false;
      if (this.current !== via) return;
      this.current = undefined;
      this.consumerTag = undefined;
      // Connection still up (a channel-level error): reopen on our own. On connection loss the
      // connection's restore hook reopens us instead.
      this.scheduleReopen(model);
    });
    this.current = via;
    await withTimeout(channel.prefetch(this.options.prefetch), this.options.timeoutMs, 'RabbitMQ basic.qos');
    if (!this.paused) await this.consume(via);
  }

  async pause(): Promise<void> {
    this.paused = true;
    const tag = this.consumerTag;
    const via = this.current;
    this.consumerTag = undefined;
    if (tag && via?.open) await withTimeout(via.channel.cancel(tag), this.options.timeoutMs, 'RabbitMQ basic.cancel').catch(() => undefined);
  }

  async resume(): Promise<void> {
    if (this.closed || !this.paused) return;
    this.paused = false;
    if (this.current?.open && !this.consumerTag) await this.consume(this.current);
  }

  /** Cancels and closes the channel; unacked deliveries go back to the queue. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reopenTimer);
    const via = this.current;
    const tag = this.consumerTag;
    this.current = undefined;
    this.consumerTag = undefined;
    if (!via?.open) return;
    try {
      if (tag) await withTimeout(via.channel.cancel(tag), this.options.timeoutMs, 'RabbitMQ basic.cancel');
      await withTimeout(via.channel.close(), this.options.timeoutMs, 'RabbitMQ close consumer channel');
    } catch {
      // The channel or connection is already gone: the broker requeues what was unacked.
    }
    via.open = false;
  }

  /** The connection went away: every channel on it is dead. */
  connectionLost(): void {
    clearTimeout(this.reopenTimer);
    this.detach();
    this.model = undefined;
  }

  ack(message: ConsumeMessage, via: ConsumerChannel): boolean {
    return this.settle(via, () => via.channel.ack(message));
  }

  nack(message: ConsumeMessage, via: ConsumerChannel, requeue: boolean): boolean {
    return this.settle(via, () => via.channel.nack(message, false, requeue));
  }

  private settle(via: ConsumerChannel, op: () => void): boolean {
    this.unsettled = Math.max(0, this.unsettled - 1);
    if (!via.open) {
      this.staleSettles++;
      return false;
    }
    try {
      op();
      return true;
    } catch {
      this.staleSettles++;
      return false;
    }
  }

  private async consume(via: ConsumerChannel): Promise<void> {
    try {
      await this.basicConsume(via);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new TopologyError(`RabbitMQ refused to consume queue '${this.queue}': ${reason}`, { broker: 'rabbitmq', cause, hint: errorHint(cause) });
    }
  }

  private async basicConsume(via: ConsumerChannel): Promise<void> {
    const reply = await withTimeout(
      via.channel.consume(
        this.queue,
        (message) => {
          if (message === null) {
            // basic.cancel from the broker: the queue was deleted or failed over. Try again shortly.
            this.cancelledByBroker++;
            if (this.current === via) {
              this.consumerTag = undefined;
              if (this.model) this.scheduleReopen(this.model);
            }
            return;
          }
          this.delivered++;
          this.unsettled++;
          this.options.onMessage(message, via);
        },
        { noAck: false, ...(this.options.consumeArguments ? { arguments: this.options.consumeArguments } : {}) },
      ),
      this.options.timeoutMs,
      `RabbitMQ basic.consume on '${this.queue}'`,
    );
    this.consumerTag = reply.consumerTag;
  }

  private detach(): void {
    const via = this.current;
    this.current = undefined;
    this.consumerTag = undefined;
    if (via) via.open = false;
  }

  /**
   * After a broker-side cancel the channel is still fine and still holds unacked deliveries whose
   * acks must keep working: consume again on it. Only a dead channel is replaced.
   */
  private async reopen(model: ChannelModel): Promise<void> {
    const via = this.current;
    if (!via?.open) return this.start(model);
    await this.options.prepare?.(model);
    if (!this.paused && !this.consumerTag && this.current === via) await this.consume(via);
  }

  /** Starting on this connection failed: try again after the reopen delay. */
  retryLater(model: ChannelModel): void {
    this.model = model;
    this.scheduleReopen(model);
  }

  private scheduleReopen(model: ChannelModel): void {
    if (this.closed) return;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => {
      if (this.closed || this.model !== model) return;
      this.reopen(model).catch((error: unknown) => {
        this.lastError = error;
        this.options.onError?.(error);
        this.scheduleReopen(model);
      });
    }, this.options.reopenDelayMs ?? 1_000);
  }
}
