/**
 * One consumer on one queue, on its own channel (a channel error then only costs this consumer,
 * and prefetch applies to it alone). Survives channel and connection loss: it is opened again on
 * the new connection. Delivery tags belong to the channel they came on, so every delivery keeps
 * a reference to its channel's generation; an ack for a channel that has since died is dropped
 * (RabbitMQ redelivers that message) instead of acking an unrelated tag on the new channel.
 *
 * Acks are batched: once per event-loop turn, the contiguous prefix of delivery tags whose
 * handlers have all finished is acked with one basic.ack `multiple` instead of one frame (and one
 * socket write) per message, so with concurrency > 1 a delivery still being handled is never
 * covered by a later one's ack; deliveries finished behind an unfinished one are acked singly in
 * the same turn. Nacks/rejects go out at once, one per delivery.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { errorHint, withTimeout } from './connection.ts';
import { TopologyError } from './topology.ts';

/** One channel generation of a consumer, with its not yet acked deliveries. */
export class ConsumerChannel {
  readonly channel: Channel;
  /** False once the channel closed: its delivery tags are void. */
  open = true;
  /**
   * Deliveries not yet acked or nacked on the wire, in delivery (= ascending tag) order (a Map
   * keeps insertion order and deletes anywhere in O(1)): tag → true once its ack is due. At most
   * the prefetch count, as RabbitMQ sends no more while that many are unsettled.
   */
  private readonly unsettled = new Map<number, boolean>();
  /** How many entries of `unsettled` are true. */
  private due = 0;
  private flushScheduled = false;

  constructor(channel: Channel) {
    this.channel = channel;
  }

  received(tag: number): void {
    this.unsettled.set(tag, false);
  }

  /** The handler of `tag` finished: it is acked with the next flush. */
  ackLater(tag: number): void {
    const state = this.unsettled.get(tag);
    if (state === true) return;
    if (state === undefined) {
      // Not a delivery we registered (cannot happen through QueueConsumer): ack it alone, now.
      this.channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, false);
      return;
    }
    this.unsettled.set(tag, true);
    this.due++;
    this.scheduleFlush();
  }

  /** `tag` was nacked (on the wire already): a later multiple-ack may now pass over it. */
  nacked(tag: number): void {
    if (this.unsettled.get(tag) === true) this.due--;
    this.unsettled.delete(tag);
  }

  /**
   * Acks the longest prefix of due deliveries with one basic.ack `multiple`, then the due ones
   * behind an unfinished delivery one by one (so a slow handler at the front never holds the
   * others' prefetch slots). Returns how many acks were dropped because the channel had died
   * (RabbitMQ redelivers those).
   */
  flush(): number {
    this.flushScheduled = false;
    if (this.due === 0) return 0;
    const unsettled = this.unsettled;
    let last = -1;
    let acks = 0;
    for (const [tag, ackDue] of unsettled) {
      if (!ackDue) break;
      unsettled.delete(tag);
      last = tag;
      acks++;
    }
    this.due -= acks;
    let behind: number[] | undefined;
    if (this.due > 0) {
      behind = [];
      for (const [tag, ackDue] of unsettled) {
        if (!ackDue) continue;
        unsettled.delete(tag);
        behind.push(tag);
      }
      this.due = 0;
    }
    if (!this.open) return acks + (behind?.length ?? 0);
    let dropped = 0;
    try {
      // amqplib reads only fields.deliveryTag; allUpTo = basic.ack multiple. Every delivery with a
      // lower tag still unsettled on the broker was in front of `last` here, and due.
      if (last >= 0) this.channel.ack({ fields: { deliveryTag: last } } as ConsumeMessage, true);
    } catch {
      dropped += acks;
    }
    for (const tag of behind ?? []) {
      try {
        this.channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, false);
      } catch {
        dropped++;
      }
    }
    return dropped;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate: after every handler that finishes in this turn (microtasks included).
    setImmediate(this.flushCallback);
  }

  private readonly flushCallback = (): void => {
    if (this.flushScheduled) this.onFlushed(this.flush());
  };

  /** Set by QueueConsumer to count dropped acks. */
  onFlushed: (dropped: number) => void = () => undefined;
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
    const via = new ConsumerChannel(channel);
    via.onFlushed = (dropped) => {
      this.staleSettles += dropped;
    };
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
      // Acks still waiting for the next flush go out before the channel closes (else they would be redelivered).
      this.staleSettles += via.flush();
      if (tag) await withTimeout(via.channel.cancel(tag), this.options.timeoutMs, 'RabbitMQ basic.cancel');
      this.staleSettles += via.flush();
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

  /** Acks with the next batch (see ConsumerChannel). False if the channel has died already. */
  ack(message: ConsumeMessage, via: ConsumerChannel): boolean {
    this.unsettled = Math.max(0, this.unsettled - 1);
    if (!via.open) {
      this.staleSettles++;
      return false;
    }
    try {
      via.ackLater(message.fields.deliveryTag);
      return true;
    } catch {
      this.staleSettles++;
      return false;
    }
  }

  nack(message: ConsumeMessage, via: ConsumerChannel, requeue: boolean): boolean {
    this.unsettled = Math.max(0, this.unsettled - 1);
    if (!via.open) {
      this.staleSettles++;
      return false;
    }
    try {
      via.channel.nack(message, false, requeue);
    } catch {
      this.staleSettles++;
      return false;
    } finally {
      via.nacked(message.fields.deliveryTag);
    }
    return true;
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
          via.received(message.fields.deliveryTag);
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
