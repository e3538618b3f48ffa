/**
 * Redis Pub/Sub as a Transport: at-most-once, and declared so. A message reaches the subscribers
 * connected when it is published; nothing is stored. What this file adds over raw PUBLISH/SUBSCRIBE:
 * one subscriber connection per client with exact `*`/`#` pattern filtering, a bounded queue per
 * subscription (Redis cannot slow a publisher down; past the bound messages are dropped and
 * counted), and gap reporting when Redis cuts the subscriber off (client-output-buffer-limit,
 * restart): it reconnects, resubscribes, counts the gap and says so in health().
 */
import { randomUUID } from 'node:crypto';
import type { BrokerCapabilities, HealthStatus } from '../../core/types.ts';
import { ACK_SENT, type ConsumeSpec, type Delivery, type Transport, type TransportSubscription, type WireMessage } from '../../core/transport.ts';
import { HEADER } from '../../core/headers.ts';
import { RedisConnections, connectionNameFor, messageOf, redisError } from './connection.ts';
import { canBatch, decodeBatchBytes, decodeEnvelopeBytes, encodeBatch, encodeEnvelope } from './envelope.ts';
import { compilePattern, isPattern } from './pattern.ts';
import type { TopicPattern } from './pattern.ts';
import type { PubSubGap, RedisConnection, RedisPubSubOptions } from './options.ts';
import { resolveConnectionOptions } from './options.ts';
import { withDeadline } from './deadline.ts';
import { PublishGate } from './publish-gate.ts';

export const PUBSUB_CAPABILITIES: BrokerCapabilities = Object.freeze({
  deliveryGuarantee: 'at-most-once',
  durable: false,
  consumerGroups: false,
  patternSubscribe: true,
  orderingByKey: false,
  nativeHeaders: false,
  nativeTtl: false,
  nativePriority: false,
  nativeDeadLetter: false,
  delayedRedelivery: false,
  redeliveryOnCrash: false,
  retainsHistory: false,
});

/** Bounds of one coalesced PUBLISH (see `#enqueue`): a batch past either is sent at once. */
const BATCH_MAX_MESSAGES = 256;
const BATCH_MAX_CHARS = 256 * 1024;

/** Envelopes of one channel waiting for the end of the tick, sent as one PUBLISH. */
interface PendingBatch {
  readonly topic: string;
  readonly envelopes: string[];
  chars: number;
  readonly done: Promise<number>;
  resolve: (receivers: number) => void;
  reject: (error: unknown) => void;
}

/** Gaps older than this stop being health issues (they stay counted in details). */
const GAP_ISSUE_WINDOW_MS = 5 * 60_000;

export class RedisPubSubTransport implements Transport {
  readonly name = 'redis-pubsub';
  readonly capabilities = PUBSUB_CAPABILITIES;
  readonly connections: RedisConnections;
  readonly #gate: PublishGate;
  readonly #maxBuffered: number;
  readonly #durableDeadLetters: boolean;
  readonly #retryOnTimeout: boolean;
  readonly #onGap: ((gap: PubSubGap) => void) | undefined;
  readonly #batchPublishes: boolean;
  /** Open batches by channel, in the order their first message was published. */
  readonly #batches = new Map<string, PendingBatch>();
  #flushScheduled = false;
  #subscriber: RedisConnection | undefined;
  #subscriberReady: Promise<RedisConnection> | undefined;
  readonly #byChannel = new Map<string, Set<PubSubSubscription>>();
  readonly #byGlob = new Map<string, Set<PubSubSubscription>>();
  readonly #gaps: PubSubGap[] = [];
  #gapCount = 0;
  #unheard = 0;
  #outputBufferDisconnects: number | undefined;
  /** Unique, so CLIENT LIST finds this subscriber's output buffer among everyone's. */
  readonly #subscriberName = `pubsub:${process.pid}-${randomUUID().slice(0, 8)}`;
  #disconnectedAt: number | undefined;
  #disconnectReason = 'connection closed';
  #closing = false;

  constructor(options: RedisPubSubOptions = {}) {
    const resolved = resolveConnectionOptions(options);
    this.connections = new RedisConnections(resolved);
    this.#gate = new PublishGate(this.connections, resolved.publishBuffer);
    this.#retryOnTimeout = resolved.retryOnTimeout;
    this.#maxBuffered = options.maxBufferedPerSubscription ?? 10_000;
    this.#durableDeadLetters = options.durableDeadLetters ?? true;
    this.#onGap = options.onGap;
    this.#batchPublishes = options.batchPublishes ?? true;
  }

  async connect(): Promise<void> {
    this.#closing = false;
    await this.connections.open();
  }

  async close(): Promise<void> {
    this.#closing = true;
    // Publishes already accepted go out before the connection closes.
    this.#flushAll();
    this.#gate.close();
    for (const set of [...this.#byChannel.values(), ...this.#byGlob.values()]) for (const sub of set) sub.stop();
    this.#byChannel.clear();
    this.#byGlob.clear();
    this.#subscriber = undefined;
    this.#subscriberReady = undefined;
    await this.connections.close();
  }

  async send(message: WireMessage, sendOptions: { timeoutMs: number; signal?: AbortSignal }): Promise<{ partition?: number; offset?: string }> {
    let options = sendOptions;
    if (this.connections.status !== 'ready') {
      const started = Date.now();
      await this.#gate.whenWritable(message.topic, message.body.byteLength, options.timeoutMs);
      options = { ...options, timeoutMs: Math.max(1, options.timeoutMs - (Date.now() - started)) };
    }
    try {
      return await this.#publish(message, options);
    } catch (error) {
      const typed = redisError(error, 'PUBLISH to channel', message.topic, this.connections.endpoint);
      if (typed.code === 'TIMEOUT' && this.#retryOnTimeout) {
        try {
          return await this.#publish(message, options);
        } catch (again) {
          throw redisError(again, 'PUBLISH to channel', message.topic, this.connections.endpoint);
        }
      }
      throw typed;
    }
  }

  async #publish(message: WireMessage, options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ offset?: string }> {
    const command = this.connections.command;
    const envelope = encodeEnvelope(message);
    if (this.#durableDeadLetters && message.headers[HEADER.dlqReason] !== undefined) {
      // A dead letter published to a channel nobody listens to would be gone: keep a copy in a stream.
      this.#flush(message.topic);
      const results = await withDeadline(
        this.connections.timed(command.multi().publish(message.topic, envelope).xadd(message.topic, 'MAXLEN', '~', '10000', '*', 'event', envelope).exec()),
        options,
        this.connections.commandTimeoutMs,
      );
      const failed = results?.find(([error]) => error);
      if (failed?.[0]) throw failed[0];
      const id = results?.[1]?.[1];
      return typeof id === 'string' ? { offset: id } : {};
    }
    if (this.#batchPublishes && canBatch(envelope)) {
      await withDeadline(this.#enqueue(message.topic, envelope), options, this.connections.commandTimeoutMs);
      return {};
    }
    // Sent alone: whatever is batched for this channel goes first, so the channel's order holds.
    this.#flush(message.topic);
    const receivers = await withDeadline(this.connections.timed(command.publish(message.topic, envelope)), options, this.connections.commandTimeoutMs);
    // Pub/Sub keeps nothing: a message nobody was subscribed to is gone. Counted, so it is visible.
    if (receivers === 0) this.#unheard += 1;
    return {};
  }

  /**
   * Publishes made in the same tick to the same channel travel as one PUBLISH carrying a
   * CloudEvents batch (see envelope.ts). Redis then parses, fans out and acknowledges one command
   * instead of N, and each subscriber reads one push reply instead of N: per-message cost on both
   * sides drops by most of what a raw PUBLISH costs. A lone publish is sent as a plain envelope, so an
   * idle publisher's latency and wire format are unchanged. Each caller still gets its own outcome:
   * the batch's PUBLISH reply, error or timeout. Off with `batchPublishes: false` (then every message
   * is its own PUBLISH, for subscribers that are not contractbus and read single events only).
   */
  #enqueue(topic: string, envelope: string): Promise<number> {
    let batch = this.#batches.get(topic);
    if (!batch) {
      let resolve!: (receivers: number) => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<number>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { topic, envelopes: [], chars: 0, done, resolve, reject };
      this.#batches.set(topic, batch);
    }
    batch.envelopes.push(envelope);
    batch.chars += envelope.length;
    const { done } = batch;
    if (batch.envelopes.length >= BATCH_MAX_MESSAGES || batch.chars >= BATCH_MAX_CHARS) this.#flush(topic);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // process.nextTick queued from a promise continuation runs once the microtask queue is
      // drained: publishes made by this turn's continuations (the next message of every
      // publishing loop) join the batch, without waiting for the rest of the event loop's I/O
      // phase as setImmediate does (throughput the same within noise on a quiet machine).
      process.nextTick(this.#flushAll);
    }
    return done;
  }

  readonly #flushAll = (): void => {
    this.#flushScheduled = false;
    for (const topic of [...this.#batches.keys()]) this.#flush(topic);
  };

  #flush(topic: string): void {
    const batch = this.#batches.get(topic);
    if (!batch) return;
    this.#batches.delete(topic);
    const count = batch.envelopes.length;
    const text = count === 1 ? (batch.envelopes[0] as string) : encodeBatch(batch.envelopes);
    this.connections.timed(this.connections.command.publish(topic, text)).then((receivers) => {
      if (receivers === 0) this.#unheard += count;
      batch.resolve(receivers);
    }, batch.reject);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    // A group reaches us only when the user asked BrokerClient to emulate one (emulate: true):
    // Pub/Sub cannot make members compete, so every subscription gets every message.
    const subscriber = await this.#subscriberConnection();
    const pattern = isPattern(spec.topic) ? compilePattern(spec.topic) : undefined;
    const subscription = new PubSubSubscription(spec, pattern, onDelivery, this.#maxBuffered, () => this.#detach(subscription));
    const registry = pattern ? this.#byGlob : this.#byChannel;
    const key = pattern ? pattern.glob : spec.topic;
    let set = registry.get(key);
    if (!set) {
      set = new Set();
      registry.set(key, set);
      try {
        await (pattern ? subscriber.psubscribe(key) : subscriber.subscribe(key));
      } catch (error) {
        registry.delete(key);
        throw redisError(error, pattern ? 'PSUBSCRIBE' : 'SUBSCRIBE', spec.topic, this.connections.endpoint);
      }
    }
    set.add(subscription);
    return subscription;
  }

  async health(): Promise<HealthStatus> {
    const ping = await this.connections.ping();
    const issues: string[] = [];
    if ('error' in ping) issues.push(`Redis at ${this.connections.endpoint} does not answer PING: ${ping.error}`);
    const subscriberStatus = this.#subscriber?.status ?? 'none';
    if (this.#subscriber && subscriberStatus !== 'ready') issues.push(`Redis Pub/Sub subscriber connection is ${subscriberStatus}: messages published now are lost`);
    const recent = this.#gaps.filter((g) => Date.now() - g.to < GAP_ISSUE_WINDOW_MS);
    for (const gap of recent.slice(-3)) {
      issues.push(
        `Redis Pub/Sub subscriber was cut off for ${gap.to - gap.from} ms at ${new Date(gap.from).toISOString()} (${gap.reason}); messages published meanwhile to ${gap.subscriptions.join(', ')} were lost (at-most-once)`,
      );
    }
    const buffer = this.#subscriber && subscriberStatus === 'ready' ? await this.#outputBuffer() : undefined;
    if (buffer?.limitBytes && buffer.bytes >= buffer.limitBytes / 2) {
      issues.push(
        `Redis Pub/Sub subscriber output buffer holds ${buffer.bytes} bytes, ${Math.round((buffer.bytes / buffer.limitBytes) * 100)} % of client-output-buffer-limit pubsub (${buffer.limitBytes}): Redis will cut it off (losing messages) if it keeps falling behind`,
      );
    }
    const subscriptions: Array<{ topic: string; buffered: number; inFlight: number; dropped: number }> = [];
    for (const set of [...this.#byChannel.values(), ...this.#byGlob.values()]) {
      for (const sub of set) {
        subscriptions.push(sub.stats());
        if (sub.dropped > 0) issues.push(`Redis Pub/Sub subscription "${sub.topic}" dropped ${sub.dropped} messages: its handlers were slower than the publishers (raise concurrency or maxBufferedPerSubscription)`);
      }
    }
    return {
      isHealthy: this.connections.isOpen && (!this.#subscriber || subscriberStatus === 'ready'),
      issues,
      details: {
        broker: 'redis',
        mode: 'pubsub',
        deliveryGuarantee: 'at-most-once',
        endpoint: this.connections.endpoint,
        status: this.connections.status,
        subscriberStatus,
        pingMs: 'latencyMs' in ping ? ping.latencyMs : undefined,
        connections: this.connections.openConnections,
        lastError: this.connections.lastError,
        publishesWaitingForReconnect: this.#gate.waiting,
        bufferFill: this.#gate.fill,
        subscriptions,
        gaps: this.#gapCount,
        lastGap: this.#gaps.at(-1),
        publishedWithNoSubscriber: this.#unheard,
        subscriberOutputBuffer: buffer,
      },
    };
  }

  /** How many times the subscriber connection was lost while subscribed (each a window of lost messages). */
  get gapCount(): number {
    return this.#gapCount;
  }

  async #subscriberConnection(): Promise<RedisConnection> {
    this.#subscriberReady ??= this.connections.duplicate(this.#subscriberName, { autoResubscribe: true }).then(async (connection) => {
      this.#subscriber = connection;
      this.#listen(connection);
      await this.#readOutputBufferDisconnects();
      return connection;
    });
    try {
      return await this.#subscriberReady;
    } catch (error) {
      this.#subscriberReady = undefined;
      throw error;
    }
  }

  #listen(connection: RedisConnection): void {
    const newId = (): string => randomUUID();
    // Buffer events: the envelope is read from the bytes Redis sent, the payload stays a view into them.
    connection.on('messageBuffer', (channelBytes: Buffer, bytes: Buffer) => {
      const channel = channelBytes.toString();
      const set = this.#byChannel.get(channel);
      if (!set) return;
      const batch = decodeBatchBytes(bytes, channel, newId);
      if (batch) for (const message of batch) fanOut(set, message);
      else fanOut(set, decodeEnvelopeBytes(bytes, channel, newId));
    });
    connection.on('pmessageBuffer', (glob: string | Buffer, channelBytes: Buffer, bytes: Buffer) => {
      const set = this.#byGlob.get(String(glob));
      if (!set) return;
      const channel = channelBytes.toString();
      let matching: PubSubSubscription[] | undefined;
      for (const sub of set) if (sub.pattern?.matches(channel)) (matching ??= []).push(sub);
      if (!matching) return;
      const batch = decodeBatchBytes(bytes, channel, newId);
      if (batch) for (const message of batch) fanOut(matching, message);
      else fanOut(matching, decodeEnvelopeBytes(bytes, channel, newId));
    });
    connection.on('error', (error: Error) => {
      this.#disconnectReason = messageOf(error);
    });
    connection.on('close', () => {
      if (this.#closing || this.#disconnectedAt !== undefined) return;
      if (this.#byChannel.size + this.#byGlob.size === 0) return;
      this.#disconnectedAt = Date.now();
      this.#disconnectReason = 'connection closed by Redis (client-output-buffer-limit for a slow subscriber, a restart, or a network failure)';
    });
    connection.on('ready', () => {
      const from = this.#disconnectedAt;
      if (from === undefined || this.#closing) return;
      this.#disconnectedAt = undefined;
      const gap: PubSubGap = {
        from,
        to: Date.now(),
        reason: this.#disconnectReason,
        subscriptions: [...this.#byChannel.keys(), ...[...this.#byGlob.values()].flatMap((s) => [...s].map((sub) => sub.topic))],
      };
      this.#gapCount += 1;
      this.#gaps.push(gap);
      if (this.#gaps.length > 20) this.#gaps.shift();
      void this.#explainGap(gap);
    });
  }

  /** Redis ≥ 7.2 counts output-buffer disconnects: if the count moved since we last looked, that was the cause. */
  async #explainGap(gap: PubSubGap): Promise<void> {
    const before = this.#outputBufferDisconnects;
    const now = await this.#readOutputBufferDisconnects();
    if (before !== undefined && now !== undefined && now > before) {
      gap.reason = `Redis disconnected clients for client-output-buffer-limit meanwhile: most likely this subscriber fell behind (raise the pubsub limit or make handlers faster)`;
    }
    try {
      this.#onGap?.(gap);
    } catch {
      // A listener's failure must not break the subscriber.
    }
  }

  /**
   * What Redis holds for this subscriber right now (CLIENT LIST omem) against the pubsub
   * output-buffer limit (the soft one, which cuts a client off after its grace period). Undefined
   * where CLIENT LIST / CONFIG GET are not allowed.
   */
  async #outputBuffer(): Promise<{ bytes: number; limitBytes: number | undefined } | undefined> {
    try {
      const command = this.connections.command;
      const list = String(await this.connections.timed(command.call('CLIENT', 'LIST', 'TYPE', 'pubsub')));
      const name = connectionNameFor(this.#subscriberName);
      const line = list.split('\n').find((l) => l.includes(` name=${name} `));
      const omem = line ? /\bomem=(\d+)/.exec(line) : null;
      if (!omem) return undefined;
      let limitBytes: number | undefined;
      try {
        const config = (await this.connections.timed(command.call('CONFIG', 'GET', 'client-output-buffer-limit'))) as unknown;
        const text = Array.isArray(config) ? String(config[1] ?? '') : typeof config === 'object' && config ? String(Object.values(config)[0] ?? '') : '';
        const match = /pubsub (\d+) (\d+) \d+/.exec(text);
        if (match) limitBytes = Number(match[2]) > 0 ? Number(match[2]) : Number(match[1]) || undefined;
      } catch {
        limitBytes = undefined;
      }
      return { bytes: Number(omem[1]), limitBytes };
    } catch {
      return undefined;
    }
  }

  async #readOutputBufferDisconnects(): Promise<number | undefined> {
    try {
      const info = String(await this.connections.timed(this.connections.command.info('stats')));
      const match = /client_output_buffer_limit_disconnections:(\d+)/.exec(info);
      this.#outputBufferDisconnects = match ? Number(match[1]) : undefined;
    } catch {
      // Unknown: the gap is reported with a generic reason.
    }
    return this.#outputBufferDisconnects;
  }

  async #detach(subscription: PubSubSubscription): Promise<void> {
    const registry = subscription.pattern ? this.#byGlob : this.#byChannel;
    const key = subscription.pattern ? subscription.pattern.glob : subscription.topic;
    const set = registry.get(key);
    if (!set?.delete(subscription) || set.size > 0) return;
    registry.delete(key);
    const subscriber = this.#subscriber;
    if (!subscriber || subscriber.status !== 'ready') return;
    try {
      await (subscription.pattern ? subscriber.punsubscribe(key) : subscriber.unsubscribe(key));
    } catch {
      // The connection is going away or already gone; nothing stays subscribed on the server then.
    }
  }
}

/** One `consume()`: a bounded queue in front of the handler, so a slow handler never blocks the others. */
class PubSubSubscription implements TransportSubscription {
  readonly topic: string;
  readonly pattern: TopicPattern | undefined;
  dropped = 0;
  readonly #queue: WireMessage[] = [];
  #head = 0;
  #inFlight = 0;
  readonly #prefetch: number;
  readonly #maxBuffered: number;
  #paused = false;
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #onDelivery: (delivery: Delivery) => Promise<void>;
  readonly #detach: () => Promise<void>;

  constructor(spec: ConsumeSpec, pattern: TopicPattern | undefined, onDelivery: (delivery: Delivery) => Promise<void>, maxBuffered: number, detach: () => Promise<void>) {
    this.topic = spec.topic;
    this.pattern = pattern;
    this.#prefetch = Math.max(1, spec.prefetch);
    this.#maxBuffered = maxBuffered;
    this.#onDelivery = onDelivery;
    this.#detach = detach;
  }

  push(message: WireMessage): void {
    if (this.#stopped) return;
    if (this.#queue.length - this.#head >= this.#maxBuffered) {
      this.dropped += 1;
      return;
    }
    this.#queue.push(message);
    this.#pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  async close(): Promise<void> {
    this.stop();
    await this.#detach();
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#head = 0;
  }

  stats(): { topic: string; buffered: number; inFlight: number; dropped: number } {
    return { topic: this.topic, buffered: this.#queue.length - this.#head, inFlight: this.#inFlight, dropped: this.dropped };
  }

  #pump(): void {
    while (!this.#paused && !this.#stopped && this.#inFlight < this.#prefetch && this.#head < this.#queue.length) {
      const message = this.#queue[this.#head] as WireMessage;
      this.#head += 1;
      this.#deliver(message, 1);
    }
    // Handed-out messages must not stay referenced from the queue (they would never be collected).
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #deliver(message: WireMessage, deliveryCount: number): void {
    this.#inFlight += 1;
    const delivery = new PubSubDelivery(message, deliveryCount, this.#owner);
    this.#onDelivery(delivery).catch(() => {
      // The shared layer settles every delivery itself; a rejection here means it could not, so drop it.
      delivery.drop();
    });
  }

  /** What a delivery may do to its subscription; one object per subscription, not closures per message. */
  readonly #owner: DeliveryOwner = {
    settled: () => {
      this.#inFlight -= 1;
      if (!this.#pumpScheduled) {
        this.#pumpScheduled = true;
        queueMicrotask(() => {
          this.#pumpScheduled = false;
          this.#pump();
        });
      }
    },
    requeue: (message, deliveryCount, delayMs) => {
      if (this.#stopped) return;
      // Pub/Sub keeps nothing: a requeue can only be honoured in this process (lost if it exits).
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (!this.#stopped) this.#deliver(message, deliveryCount + 1);
      }, delayMs);
      this.#timers.add(timer);
    },
  };
  #pumpScheduled = false;
}

/** Every subscription gets the message; each after the first its own copy of the headers (handlers may change them). */
function fanOut(subscriptions: Iterable<PubSubSubscription>, message: WireMessage): void {
  let first = true;
  for (const sub of subscriptions) {
    sub.push(first ? message : { ...message, headers: { ...message.headers } });
    first = false;
  }
}

interface DeliveryOwner {
  settled(): void;
  requeue(message: WireMessage, deliveryCount: number, delayMs: number): void;
}

/** ack/nack are idempotent and mutually exclusive: the first call wins, later ones do nothing. */
class PubSubDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly #owner: DeliveryOwner;
  #settled = false;

  constructor(message: WireMessage, deliveryCount: number, owner: DeliveryOwner) {
    this.message = message;
    this.deliveryCount = deliveryCount;
    this.#owner = owner;
  }

  ack(): Promise<void> {
    this.drop();
    return ACK_SENT;
  }

  nack(options: { requeue: boolean; delayMs?: number }): Promise<void> {
    if (this.drop() && options.requeue) this.#owner.requeue(this.message, this.deliveryCount, options.delayMs ?? 0);
    return ACK_SENT;
  }

  /** Settles without requeueing; false when it was settled already. */
  drop(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#owner.settled();
    return true;
  }
}
