/**
 * One long-lived confirm channel for every publish (never a channel per publish). A publish
 * resolves when RabbitMQ confirms it (basic.ack), and rejects when RabbitMQ nacks it, when the
 * message came back unroutable (basic.return: RabbitMQ also acks those, so the ack alone proves
 * nothing), when the channel dies first, or when the timeout passes.
 *
 * Backpressure: when the socket's write buffer is full (`publish` returns false) or RabbitMQ
 * blocks the connection (memory or disk alarm), publishes wait for 'drain' / 'unblocked' instead
 * of piling up in memory; the wait counts against the publish timeout.
 */
import type { ChannelModel, ConfirmChannel, Channel, Message, Options } from 'amqplib';
import { PublishError, TimeoutError } from '../../core/errors.ts';
import { errorHint, withTimeout } from './connection.ts';

export interface PublishRequest {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  confirm: boolean;
  /** A basic.return (no queue bound) rejects with UnroutableError; otherwise it is only counted. Needs options.mandatory. */
  failUnroutable: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /** For error messages: the contractbus topic. */
  topic: string;
}

export class UnroutableError extends PublishError {
  override readonly code: string = 'UNROUTABLE';
}

/** The channel or connection died before RabbitMQ confirmed: the message may or may not have arrived. */
export class ChannelClosedError extends PublishError {
  override readonly code: string = 'CHANNEL_CLOSED';
  /** RabbitMQ closed the channel on purpose (e.g. 404 no such exchange): sending again would fail the same way. */
  refusedByBroker = false;
}

export class Publisher {
  private confirmChannel: ConfirmChannel | undefined;
  private plainChannel: Channel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private model: ChannelModel | undefined;
  /**
   * Unconfirmed mandatory publishes by message id (a basic.return carries it with the exchange and
   * routing key, not the publish sequence number); oldest first, as returns arrive in publish
   * order, before the ack.
   */
  private readonly unconfirmed = new Map<string, PendingPublish | PendingPublish[]>();
  private readonly channelErrors = new WeakMap<Channel, Error>();
  private writable = true;
  private drainWaiters: Array<() => void> = [];
  private blockedReason: string | undefined;
  private unblockWaiters: Array<() => void> = [];
  inFlight = 0;
  published = 0;
  /** Times a publish found the socket write buffer full and later publishes waited for 'drain'. */
  writeBufferFull = 0;
  returned = 0;
  /** Confirmed publishes that reached no queue (mandatory off at the contractbus level: counted, not failed). */
  unroutable = 0;
  lastUnroutable: string | undefined;
  private readonly openTimeoutMs: number;
  readonly stableHeaders = new StableHeaders();

  constructor(openTimeoutMs: number) {
    this.openTimeoutMs = openTimeoutMs;
  }

  get channelState(): 'open' | 'closed' {
    return this.confirmChannel ? 'open' : 'closed';
  }

  get blocked(): string | undefined {
    return this.blockedReason;
  }

  /** After every (re)connect: open the confirm channel eagerly so the first publish does not pay for it. */
  async restore(model: ChannelModel): Promise<void> {
    this.model = model;
    this.confirmChannel = undefined;
    this.plainChannel = undefined;
    this.opening = undefined;
    this.setBlocked(undefined);
    this.writable = true;
    this.releaseDrainWaiters();
    await this.channel(model);
  }

  setBlocked(reason: string | undefined): void {
    this.blockedReason = reason;
    if (reason === undefined) {
      const waiters = this.unblockWaiters;
      this.unblockWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Channel or connection gone: wake everyone waiting so they fail or retry on the new channel. */
  invalidate(): void {
    this.confirmChannel = undefined;
    this.plainChannel = undefined;
    this.opening = undefined;
    this.model = undefined;
    this.writable = true;
    this.releaseDrainWaiters();
  }

  async publish(request: PublishRequest): Promise<void> {
    const deadline = Date.now() + request.timeoutMs;
    if (!this.model) throw new PublishError(`RabbitMQ publish to '${request.topic}' failed: not connected`, { broker: 'rabbitmq', topic: request.topic });
    if (this.blockedReason !== undefined || !this.writable) await this.waitWritable(request, deadline);
    request.signal?.throwIfAborted();
    if (!request.confirm) {
      const channel = await this.plain(this.model);
      let accepted: boolean;
      try {
        accepted = this.stableHeaders.publish(channel, request);
      } catch (error) {
        throw new ChannelClosedError(`RabbitMQ publish to '${request.topic}' failed: channel closed`, { broker: 'rabbitmq', topic: request.topic, cause: error, hint: 'The connection is being re-established: publish again' });
      }
      if (!accepted) this.writable = false;
      this.published++;
      return;
    }
    const channel = this.confirmChannel ?? (await this.channel(this.model));
    const pending = new PendingPublish(this, request, channel, deadline);
    this.inFlight++;
    try {
      await pending.promise;
    } finally {
      this.inFlight--;
      if (pending.tracked) this.untrack(pending);
    }
  }

  /** Called by PendingPublish once amqplib took the frame. */
  sent(accepted: boolean): void {
    if (!accepted) {
      this.writable = false;
      this.writeBufferFull++;
    }
    this.published++;
  }

  /** The error the channel died with, if RabbitMQ closed it on purpose. */
  channelError(channel: Channel): Error | undefined {
    return this.channelErrors.get(channel);
  }

  async close(): Promise<void> {
    const channels = [this.confirmChannel, this.plainChannel];
    this.invalidate();
    for (const channel of channels) {
      if (!channel) continue;
      try {
        await withTimeout(channel.close(), 2_000, 'RabbitMQ close publisher channel');
      } catch {
        // The connection is going away anyway.
      }
    }
  }

  private async channel(model: ChannelModel): Promise<ConfirmChannel> {
    if (this.confirmChannel) return this.confirmChannel;
    this.opening ??= (async () => {
      const channel = await withTimeout(model.createConfirmChannel(), this.openTimeoutMs, 'RabbitMQ open confirm channel');
      // A channel error (emitted before 'close') is RabbitMQ refusing something on this channel.
      channel.on('error', (error: Error) => this.channelErrors.set(channel, error));
      channel.on('close', () => {
        if (this.confirmChannel === channel) {
          this.confirmChannel = undefined;
          this.opening = undefined;
          this.writable = true;
          this.releaseDrainWaiters();
        }
      });
      channel.on('drain', () => {
        this.writable = true;
        this.releaseDrainWaiters();
      });
      channel.on('return', (message: Message) => this.onReturn(message));
      if (this.model === model) this.confirmChannel = channel;
      return channel;
    })();
    try {
      return await this.opening;
    } catch (error) {
      this.opening = undefined;
      throw error;
    }
  }

  private async plain(model: ChannelModel): Promise<Channel> {
    if (this.plainChannel) return this.plainChannel;
    const channel = await withTimeout(model.createChannel(), this.openTimeoutMs, 'RabbitMQ open channel');
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.plainChannel === channel) this.plainChannel = undefined;
    });
    channel.on('drain', () => {
      this.writable = true;
      this.releaseDrainWaiters();
    });
    channel.on('return', (message: Message) => this.onReturn(message));
    this.plainChannel = channel;
    return channel;
  }

  // Keyed by message id alone (a basic.return names exchange and routing key too; those are
  // compared on return). Ids are almost always unique, so the map holds one PendingPublish; a list
  // only when the same id is in flight twice (hot path: no array and no key string per publish).
  track(pending: PendingPublish): void {
    const id = pending.messageId;
    const existing = this.unconfirmed.get(id);
    if (existing === undefined) this.unconfirmed.set(id, pending);
    else if (Array.isArray(existing)) existing.push(pending);
    else this.unconfirmed.set(id, [existing, pending]);
  }

  private untrack(pending: PendingPublish): void {
    const id = pending.messageId;
    const existing = this.unconfirmed.get(id);
    if (existing === pending) {
      this.unconfirmed.delete(id);
    } else if (Array.isArray(existing)) {
      const index = existing.indexOf(pending);
      if (index >= 0) existing.splice(index, 1);
      if (existing.length === 0) this.unconfirmed.delete(id);
    }
  }

  private onReturn(message: Message): void {
    this.returned++;
    const id = typeof message.properties.messageId === 'string' ? message.properties.messageId : '';
    const existing = this.unconfirmed.get(id);
    if (existing === undefined) return;
    const { exchange, routingKey } = message.fields;
    const matches = (p: PendingPublish): boolean => p.returned === undefined && !p.done && p.request.exchange === exchange && p.request.routingKey === routingKey;
    // Returns arrive in publish order, before the ack: the oldest unconfirmed one with this id, exchange and key.
    const pending = Array.isArray(existing) ? existing.find(matches) : matches(existing) ? existing : undefined;
    if (pending) pending.returned = message;
  }

  private async waitWritable(request: PublishRequest, deadline: number): Promise<void> {
    while (this.blockedReason !== undefined || !this.writable) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const why = this.blockedReason !== undefined ? `the connection is blocked by RabbitMQ (${this.blockedReason})` : 'the socket write buffer stayed full';
        throw new TimeoutError(`RabbitMQ publish to '${request.topic}' timed out: ${why}`, { broker: 'rabbitmq', topic: request.topic, hint: this.blockedReason !== undefined ? 'RabbitMQ raised a memory or disk alarm: free resources on the broker or slow down publishers' : 'Publish more slowly or raise timeoutMs' });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, remaining);
        function wake(): void {
          clearTimeout(timer);
          resolve();
        }
        if (this.blockedReason !== undefined) this.unblockWaiters.push(wake);
        else this.drainWaiters.push(wake);
      });
      request.signal?.throwIfAborted();
    }
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * One confirmed publish in flight: a single object per publish (its promise, the confirm
 * callback, the timeout and the abort listener) instead of a closure each. Settles once.
 */
class PendingPublish {
  readonly promise: Promise<void>;
  readonly request: PublishRequest;
  readonly messageId: string;
  /** Set by Publisher.onReturn: RabbitMQ could not route it (the ack follows). */
  returned: Message | undefined;
  done = false;
  tracked = false;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private readonly publisher: Publisher;
  private readonly channel: ConfirmChannel;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: (() => void) | undefined;

  constructor(publisher: Publisher, request: PublishRequest, channel: ConfirmChannel, deadline: number) {
    this.publisher = publisher;
    this.request = request;
    this.channel = channel;
    this.messageId = request.options.messageId ?? '';
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(this.onTimeout, Math.max(1, deadline - Date.now()));
    const signal = request.signal;
    if (signal) {
      this.onAbort = () => this.finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    if (request.options.mandatory) {
      publisher.track(this);
      this.tracked = true;
    }
    let accepted: boolean;
    try {
      accepted = publisher.stableHeaders.publish(channel, request, this.onConfirm);
    } catch (error) {
      this.finish(new ChannelClosedError(`RabbitMQ publish to '${request.topic}' failed: channel closed`, { broker: 'rabbitmq', topic: request.topic, cause: error, hint: 'The connection is being re-established: publish again' }));
      return;
    }
    publisher.sent(accepted);
  }

  private finish(error?: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.request.signal?.removeEventListener('abort', this.onAbort);
    if (error) this.reject(error);
    else this.resolve();
  }

  private readonly onTimeout = (): void => {
    const { request } = this;
    this.finish(new TimeoutError(`RabbitMQ did not confirm the publish to '${request.topic}' within ${request.timeoutMs} ms`, {
      broker: 'rabbitmq',
      topic: request.topic,
      hint: 'The message may or may not have been stored: publish again (consumers should be idempotent) or raise timeoutMs',
    }));
  };

  private readonly onConfirm = (error: unknown): void => {
    const { request } = this;
    if (error) {
      // amqplib reports a lost channel as 'channel closed' and a broker nack as 'message nacked'.
      if (!(error instanceof Error && error.message === 'message nacked')) {
        // Another publish's refusal (e.g. its exchange does not exist) closes the channel for
        // everyone on it: only the publish it names was refused, the others are sent again.
        const channelError = this.publisher.channelError(this.channel);
        const refusal = channelError?.message.includes(`'${request.exchange}'`) ? channelError : undefined;
        const closed = new ChannelClosedError(
          refusal ? `RabbitMQ refused the publish to '${request.topic}' and closed the channel: ${refusal.message}` : `RabbitMQ publish to '${request.topic}' was not confirmed: the channel closed`,
          { broker: 'rabbitmq', topic: request.topic, cause: refusal ?? error, hint: refusal ? errorHint(refusal) : 'Publish again' },
        );
        closed.refusedByBroker = refusal !== undefined;
        this.finish(closed);
        return;
      }
      this.finish(new PublishError(`RabbitMQ rejected the publish to '${request.topic}'`, { broker: 'rabbitmq', topic: request.topic, cause: error, hint: 'The broker nacked it (queue full with reject-publish, or an internal error): publish again' }));
      return;
    }
    if (this.returned) {
      const publisher = this.publisher;
      publisher.unroutable++;
      publisher.lastUnroutable = `${request.exchange}/${request.routingKey}`;
      if (!request.failUnroutable) {
        this.finish();
        return;
      }
      const reply = this.returned.fields as unknown as { replyText?: string };
      this.finish(new UnroutableError(`RabbitMQ could not route the message for '${request.topic}': no queue is bound to routing key '${request.routingKey}' on exchange '${request.exchange}' (${reply.replyText ?? 'NO_ROUTE'})`, {
        broker: 'rabbitmq',
        topic: request.topic,
        hint: 'Subscribe with a group (a durable queue) before publishing, or declare and bind a queue; leave mandatory off if dropping it is fine',
      }));
      return;
    }
    this.finish();
  };
}

/**
 * amqplib's `Args.publish` wraps the headers as the prototype of a new object
 * (`Object.create(options.headers)`). Making a fresh object a prototype costs V8 about 1 µs (it
 * rebuilds the object's map), and the field-table encoder then walks that prototype chain: with
 * the one header every contractbus publish carries (`timestamp_in_ms`) this more than doubled
 * amqplib's per-publish encoding cost. amqplib encodes the frame synchronously inside `publish`
 * (transport.test.ts checks that back-to-back publishes keep their own headers), so the headers
 * can travel in one long-lived object per set of header names, refilled just before each call:
 * it became a prototype once and stays one. The caller's options are left as they were.
 */
class StableHeaders {
  private readonly byNames = new Map<string, Record<string, unknown>>();

  publish(channel: Channel, request: PublishRequest, onConfirm?: (error: unknown) => void): boolean {
    const options = request.options;
    const own = options.headers as Record<string, unknown> | undefined;
    const stable = own === undefined ? undefined : this.refill(own);
    if (stable === undefined) return (channel as ConfirmChannel).publish(request.exchange, request.routingKey, request.content, options, onConfirm);
    options.headers = stable;
    try {
      return (channel as ConfirmChannel).publish(request.exchange, request.routingKey, request.content, options, onConfirm);
    } finally {
      options.headers = own;
    }
  }

  /** The long-lived object for these header names, holding these values; undefined to use the headers as they are. */
  private refill(headers: Record<string, unknown>): Record<string, unknown> | undefined {
    const names = Object.keys(headers);
    const key = names.length === 1 ? (names[0] as string) : names.join('\u0000');
    let stable = this.byNames.get(key);
    if (stable === undefined) {
      // Many different header sets (headers as data): not worth a cache entry each.
      if (this.byNames.size >= 64 || names.includes('__proto__')) return undefined;
      stable = {};
      this.byNames.set(key, stable);
    }
    // Same names, same order every time: the object keeps one shape; every name is overwritten.
    for (const name of names) stable[name] = headers[name];
    return stable;
  }
}
