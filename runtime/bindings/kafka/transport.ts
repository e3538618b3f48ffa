/**
 * `KafkaTransport`: the binding seam (core/transport.ts) over a Kafka driver (driver.ts).
 * One long-lived idempotent producer (acks=all by default), one group consumer per subscription,
 * topics (and dead-letter topics) created on first use with the configured partitions.
 */
import { randomUUID } from 'node:crypto';
import { BufferFullError, ConfigurationError, ConnectionError, ContractbusError, PublishError, TimeoutError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from '../../core/transport.ts';
import type { BrokerCapabilities, HealthStatus } from '../../core/types.ts';
import { deadLetterHeaders, deadLetterTopicFor } from '../../reliability/dead-letter.ts';
import { ConsumerRunner } from './consumer.ts';
import type { DriverGroupConsumer, KafkaDriver, PartitionLag, TopicSpec } from './driver.ts';
import { withTimeout } from './drivers/timeout.ts';
import { resolveKafkaOptions, type KafkaDriverName, type KafkaOptions, type ResolvedKafkaOptions } from './options.ts';
import { partitionForKey } from './partitioner.ts';
import { toRecord } from './wire.ts';

export const KAFKA_CAPABILITIES: BrokerCapabilities = Object.freeze({
  deliveryGuarantee: 'at-least-once',
  durable: true,
  consumerGroups: true,
  // @platformatic/kafka subscribes to topic names only (no regex): not offered by both drivers.
  patternSubscribe: false,
  orderingByKey: true,
  nativeHeaders: true,
  nativeTtl: false,
  nativePriority: false,
  nativeDeadLetter: false,
  // nack with requeue redelivers in process (in order); the broker cannot hold one record back.
  delayedRedelivery: false,
  redeliveryOnCrash: true,
  // A new group starts at 'earliest' over the retained log.
  retainsHistory: true,
});

/** Per-subscription settings the generic ConsumeSpec has no room for (set by KafkaClient.consume). */
export interface KafkaConsumeOverrides {
  maxPollRecords?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** false: commit only through KafkaClient.commitOffset. Default true. */
  enableAutoCommit?: boolean;
  maxRedeliveries?: number;
}

export interface KafkaTransportOptions extends KafkaOptions {
  logger?: Logger;
}

interface ActiveSubscription {
  /** The topics, comma-separated (names in health and errors). */
  topic: string;
  topics: string[];
  groupId: string;
  driver: KafkaDriver;
  privateGroup: boolean;
  runner: ConsumerRunner;
  consumer: DriverGroupConsumer;
  /** Set when the driver gave up on the consumer (it will not restart by itself). */
  stopped: string | undefined;
}

/** Records and bytes per coalesced produce request: the broker's max.message.bytes is 1 MiB by default. */
const COALESCE_MAX_RECORDS = 500;
const COALESCE_MAX_BYTES = 512 * 1024;
/** What a record adds to its value in a request, roughly (key, headers, framing): for the byte bound only. */
const RECORD_OVERHEAD_BYTES = 96;
/** How long a topic's partition count is trusted before it is read again. */
const PARTITION_COUNT_TTL_MS = 60_000;

interface ProduceWaiter {
  resolve(receipt: { partition: number; offset: string }): void;
  reject(error: unknown): void;
  done: boolean;
}

interface PendingProduce {
  topic: string;
  messages: WireMessage[];
  waiters: ProduceWaiter[];
  bytes: number;
  /** The smallest timeout among its publishes. */
  timeoutMs: number;
  /** Sent or full: later publishes start the next batch. */
  closed: boolean;
}

/** A topic's batches not sent yet (the last one open to more publishes), and the one in flight. */
interface ProduceQueue {
  batches: PendingProduce[];
  /** The request in flight (it never rejects), if any. */
  current: Promise<void> | undefined;
}

interface Bundle {
  topics: Set<string>;
  handlers: Map<string, (delivery: Delivery) => Promise<void>>;
  specs: ConsumeSpec[];
  ready: Promise<ActiveSubscription> | undefined;
  resolveAll?: (started: Promise<ActiveSubscription>) => void;
  open: number;
}

export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly capabilities = KAFKA_CAPABILITIES;
  readonly options: ResolvedKafkaOptions;
  readonly #logger: Logger;
  #driver: KafkaDriver | undefined;
  #connecting: Promise<KafkaDriver> | undefined;
  readonly #knownTopics = new Set<string>();
  readonly #creating = new Map<string, Promise<void>>();
  readonly #subscriptions = new Set<ActiveSubscription>();
  readonly #overrides = new Map<string, KafkaConsumeOverrides>();
  /** Publishes accepted and not settled yet (queued for a coalesced request, or in flight). */
  #pendingPublishes = 0;
  /** Per topic: publishes waiting to go out as one request per batch, one request in flight at a time (see send). */
  readonly #produces = new Map<string, ProduceQueue>();
  #produceFlushScheduled = false;
  readonly #partitionCounts = new Map<string, { count: Promise<number | undefined> | number; at: number }>();
  readonly #stickyNext = new Map<string, number>();
  readonly #bundles = new Map<string, Bundle>();
  #lastError: string | undefined;

  constructor(options: KafkaTransportOptions = {}) {
    this.options = resolveKafkaOptions(options);
    this.#logger = options.logger ?? silentLogger;
  }

  get driverName(): string {
    return typeof this.options.driver === 'string' ? this.options.driver : this.options.driver.name;
  }

  async connect(): Promise<void> {
    await this.#connected();
  }

  async #connected(): Promise<KafkaDriver> {
    if (this.#driver) return this.#driver;
    this.#connecting ??= this.#open().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #createDriver(name: KafkaDriverName): Promise<KafkaDriver> {
    const o = this.options;
    if (name === 'kafkajs') {
      const { createKafkajsDriver } = await import('./drivers/kafkajs.ts');
      return createKafkajsDriver({
        brokers: o.brokers,
        clientId: o.clientId,
        ssl: o.tls,
        sasl: o.sasl ? { mechanism: o.sasl.mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512', username: o.sasl.username, password: o.sasl.password } : undefined,
        connectionTimeoutMs: o.connectionTimeoutMs,
        requestTimeoutMs: o.requestTimeoutMs,
        idempotent: o.idempotent,
        kafka: o.client as never,
      });
    }
    const { createPlatformaticDriver } = await import('./drivers/platformatic.ts');
    return createPlatformaticDriver({
      brokers: o.brokers,
      clientId: o.clientId,
      tls: o.tls,
      sasl: o.sasl,
      connectionTimeoutMs: o.connectionTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      idempotent: o.idempotent,
      producer: o.client as never,
    });
  }

  async #open(): Promise<KafkaDriver> {
    const o = this.options;
    let driver: KafkaDriver;
    if (typeof o.driver === 'object') {
      driver = o.driver;
    } else {
      driver = await this.#createDriver(await loadDriverPackage(o.driver as KafkaDriverName, o.driverIsDefault));
    }
    try {
      await withTimeout(driver.connect(), o.connectionTimeoutMs + o.requestTimeoutMs, 'connect');
    } catch (error) {
      await driver.close().catch(() => undefined);
      throw new ConnectionError(`Kafka (${driver.name}): cannot connect to ${o.brokers.join(',')}: ${messageOf(error)}`, {
        broker: 'kafka',
        cause: error,
        hint: connectHint(messageOf(error), o.securityProtocol, o.sasl?.mechanism),
      });
    }
    this.#driver = driver;
    return driver;
  }

  async close(): Promise<void> {
    // Publishes already accepted go out (and settle) before the producer closes; otherwise a batch
    // queued behind a request in flight would find no producer and open a new connection.
    await this.#drainProduces();
    await Promise.allSettled([...this.#subscriptions].map((s) => s.runner.close()));
    this.#subscriptions.clear();
    const driver = this.#driver ?? (await this.#connecting?.catch(() => undefined));
    this.#driver = undefined;
    this.#connecting = undefined;
    await driver?.close();
  }

  /**
   * One publish. With `batchPublishes` (the default) the publishes to one topic made in the same
   * tick share one produce request: a request per publish costs the client tens of µs and the
   * broker a request (and, with acks=all, a replication round) each; Kafka is built to take records
   * in batches. Each publish still gets its own receipt and outcome (a failed request fails every
   * publish in it; the producer is idempotent, so retrying them is safe).
   */
  send(message: WireMessage, options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ partition?: number; offset?: string }> {
    if (!this.options.batchPublishes || options.signal !== undefined) {
      return this.sendBatch([message], options).then(([receipt]) => receipt ?? {});
    }
    if (this.#pendingPublishes + 1 > this.options.maxPendingPublishes) return Promise.reject(this.#bufferFull(message.topic));
    this.#pendingPublishes++;
    const topic = message.topic;
    let queue = this.#produces.get(topic);
    if (queue === undefined) {
      queue = { batches: [], current: undefined };
      this.#produces.set(topic, queue);
    }
    let batch = queue.batches.at(-1);
    if (batch === undefined || batch.closed) {
      batch = { topic, messages: [], waiters: [], bytes: 0, timeoutMs: options.timeoutMs, closed: false };
      queue.batches.push(batch);
    } else if (options.timeoutMs < batch.timeoutMs) batch.timeoutMs = options.timeoutMs;
    const pending = batch;
    const receipt = new Promise<{ partition: number; offset: string }>((resolve, reject) => pending.waiters.push({ resolve, reject, done: false }));
    pending.messages.push(message);
    pending.bytes += message.body.byteLength + RECORD_OVERHEAD_BYTES;
    if (pending.messages.length >= COALESCE_MAX_RECORDS || pending.bytes >= COALESCE_MAX_BYTES) {
      pending.closed = true;
      this.#pumpProduces(topic, queue);
    } else if (!this.#produceFlushScheduled) {
      this.#produceFlushScheduled = true;
      // Once this tick's promise continuations ran: publishes they make join the request.
      process.nextTick(this.#flushProduces);
    }
    return receipt;
  }

  readonly #flushProduces = (): void => {
    this.#produceFlushScheduled = false;
    for (const [topic, queue] of this.#produces) this.#pumpProduces(topic, queue);
  };

  /**
   * Sends a topic's next batch unless one is in flight: one produce request per topic at a time,
   * so batches reach the broker in publish order (kafkajs lets concurrent requests overtake each
   * other: measured, keys' records out of order). Publishes made meanwhile gather in the open
   * batch and go out together when the request in flight has finished.
   */
  #pumpProduces(topic: string, queue: ProduceQueue): void {
    if (queue.current !== undefined) return;
    const batch = queue.batches.shift();
    if (batch === undefined) {
      this.#produces.delete(topic);
      return;
    }
    batch.closed = true;
    queue.current = this.#produceCoalesced(batch).then(() => {
      queue.current = undefined;
      this.#pumpProduces(topic, queue);
    });
  }

  /** Sends every publish accepted so far and waits until each has settled (each request is bounded by its timeout). */
  async #drainProduces(): Promise<void> {
    this.#flushProduces();
    while (this.#produces.size > 0) {
      const inFlight = [...this.#produces.values()].flatMap((queue) => (queue.current === undefined ? [] : [queue.current]));
      if (inFlight.length === 0) break;
      await Promise.all(inFlight);
    }
  }

  /** Settles one publish of a coalesced request (once), freeing its place in maxPendingPublishes first. */
  #settleProduce(waiter: ProduceWaiter, receipt: { partition: number; offset: string } | undefined, error?: unknown): void {
    if (waiter.done) return;
    waiter.done = true;
    this.#pendingPublishes--;
    if (receipt === undefined) waiter.reject(error);
    else waiter.resolve(receipt);
  }

  /** Sends one tick's publishes to a topic and settles each; never rejects. */
  async #produceCoalesced(batch: PendingProduce): Promise<void> {
    const { messages, waiters, timeoutMs } = batch;
    try {
      const partitions = messages.length === 1 ? undefined : await this.#place(batch.topic, messages, timeoutMs);
      if (messages.length > 1 && partitions === undefined) {
        // The partition count is unknown: a request per publish, each with an exact receipt.
        await Promise.all(
          messages.map((message, i) => {
            const waiter = waiters[i] as ProduceWaiter;
            return this.#sendBatch([message], { timeoutMs }).then(
              ([receipt]) => this.#settleProduce(waiter, receipt ?? { partition: -1, offset: '-1' }),
              (error: unknown) => this.#settleProduce(waiter, undefined, error),
            );
          }),
        );
        return;
      }
      const receipts = await this.#sendBatch(messages, { timeoutMs }, partitions);
      for (let i = 0; i < waiters.length; i++) this.#settleProduce(waiters[i] as ProduceWaiter, receipts[i] ?? { partition: -1, offset: '-1' });
    } catch (error) {
      // The count may be stale (partitions added, topic recreated): read it again next time.
      this.#partitionCounts.delete(batch.topic);
      for (const waiter of waiters) this.#settleProduce(waiter, undefined, error);
    }
  }

  /**
   * The partition of each record of a coalesced request, so each receipt names its own: a keyed
   * record where Java's partitioner puts it (as the drivers would), keyless ones all on one
   * partition per request, round-robin across requests (Kafka's sticky partitioning: fewer,
   * larger batches). undefined when the topic's partition count cannot be read.
   */
  async #place(topic: string, messages: WireMessage[], timeoutMs: number): Promise<number[] | undefined> {
    const count = await this.#partitionCount(topic, timeoutMs);
    if (count === undefined) return undefined;
    let sticky: number | undefined;
    return messages.map((message) => {
      if (message.key !== undefined) return partitionForKey(message.key, count);
      if (sticky === undefined) {
        const next = this.#stickyNext.get(topic) ?? 0;
        this.#stickyNext.set(topic, (next + 1) % count);
        sticky = next % count;
      }
      return sticky;
    });
  }

  #partitionCount(topic: string, timeoutMs: number): Promise<number | undefined> | number {
    const known = this.#partitionCounts.get(topic);
    if (known !== undefined && Date.now() - known.at < PARTITION_COUNT_TTL_MS) return known.count;
    const reading = (async (): Promise<number | undefined> => {
      try {
        const driver = this.#driver ?? (await withTimeout(this.#connected(), timeoutMs, 'connect'));
        if (this.options.autoCreateTopics && !this.#knownTopics.has(topic)) await this.ensureTopics([topic], timeoutMs);
        const count = (await driver.topicOffsets(topic, { timeoutMs })).length;
        if (count > 0) {
          this.#partitionCounts.set(topic, { count: Promise.resolve(count), at: Date.now() });
          return count;
        }
      } catch (error) {
        this.#logger.debug({ broker: 'kafka', topic, err: error }, 'Kafka: reading the partition count failed; publishing one request per message');
      }
      this.#partitionCounts.delete(topic);
      return undefined;
    })();
    this.#partitionCounts.set(topic, { count: reading, at: Date.now() });
    return reading;
  }

  #bufferFull(topic: string | undefined): BufferFullError {
    return new BufferFullError(`Kafka (${this.driverName}): ${this.#pendingPublishes} publishes are already waiting for the broker; not publishing to "${topic}"`, {
      broker: 'kafka',
      topic,
      hint: 'The brokers are slow or unreachable: back off and retry, or raise maxPendingPublishes',
    });
  }

  /** Several messages in one produce request per topic; resolves once the broker acknowledged all. */
  async sendBatch(messages: WireMessage[], options: { timeoutMs: number; signal?: AbortSignal; partition?: number }): Promise<Array<{ partition: number; offset: string }>> {
    if (messages.length === 0) return [];
    options.signal?.throwIfAborted();
    if (this.#pendingPublishes + messages.length > this.options.maxPendingPublishes) throw this.#bufferFull(messages[0]?.topic);
    this.#pendingPublishes += messages.length;
    try {
      return await this.#sendBatch(messages, options);
    } finally {
      this.#pendingPublishes -= messages.length;
    }
  }

  /** `partitions`: one per message (a coalesced publish), else `options.partition` or the driver's partitioner. */
  async #sendBatch(messages: WireMessage[], options: { timeoutMs: number; partition?: number }, partitions?: number[]): Promise<Array<{ partition: number; offset: string }>> {
    const topics = messages.length === 1 ? [messages[0]!.topic] : [...new Set(messages.map((m) => m.topic))];
    const deadline = Date.now() + options.timeoutMs;
    try {
      // Hot path: connected and every topic known — no extra awaits or timers.
      const driver = this.#driver ?? (await withTimeout(this.#connected(), options.timeoutMs, 'connect'));
      if (this.options.autoCreateTopics && topics.some((t) => !this.#knownTopics.has(t))) await this.ensureTopics(topics, Math.max(1, deadline - Date.now()));
      const produced = await driver.produce(
        messages.map((m, i) => toRecord(m, partitions === undefined ? options.partition : partitions[i])),
        { acks: this.options.acks, timeoutMs: Math.max(1, deadline - Date.now()) },
      );
      return produced.map((p) => ({ partition: p.partition, offset: p.offset }));
    } catch (error) {
      this.#lastError = messageOf(error);
      if (error instanceof ContractbusError && !(error instanceof TimeoutError)) throw error;
      const topic = topics.join(', ');
      const ErrorType = error instanceof TimeoutError ? TimeoutError : PublishError;
      throw new ErrorType(`Kafka (${this.driverName}): publish to "${topic}" failed: ${messageOf(error)}`, {
        broker: 'kafka',
        topic,
        cause: error,
        hint: 'The message was not confirmed by the broker; it is safe to publish again (the producer is idempotent)',
      });
    }
  }

  /** Creates the topics not known yet, with `topicConfig` or the default partitions/replication. */
  async ensureTopics(topics: string[], timeoutMs = this.options.requestTimeoutMs): Promise<void> {
    if (!this.options.autoCreateTopics) return;
    const missing = topics.filter((t) => !this.#knownTopics.has(t));
    if (missing.length === 0) return;
    const driver = await this.#connected();
    await Promise.all(
      missing.map((topic) => {
        let pending = this.#creating.get(topic);
        if (!pending) {
          const spec: TopicSpec = {
            topic,
            partitions: this.options.topicConfig[topic]?.partitions ?? this.options.defaultPartitions,
            replicationFactor: this.options.topicConfig[topic]?.replicationFactor ?? this.options.defaultReplicationFactor,
          };
          pending = driver
            .createTopics([spec], { timeoutMs })
            .then(() => {
              this.#knownTopics.add(topic);
            })
            .finally(() => this.#creating.delete(topic));
          this.#creating.set(topic, pending);
        }
        return pending;
      }),
    );
  }

  /** Kafka-specific settings for the next `consume` of `topic` in `group` (used by KafkaClient.consume). */
  setConsumeOverrides(topic: string, group: string, overrides: KafkaConsumeOverrides): void {
    this.#overrides.set(`${group}\u0000${topic}`, overrides);
  }

  /**
   * Announces that the next `consume` calls for `topics` in `group` belong to one consumer: the
   * group member subscribes to all of them at once (KafkaClient.consume). Kafka's assignors hand a
   * group's partitions to members as if every member subscribed to every topic, so one member per
   * topic in the same group would be assigned partitions it never reads.
   */
  bundleTopics(group: string, topics: string[]): void {
    if (topics.length < 2) return;
    this.#bundles.set(group, { topics: new Set(topics), handlers: new Map(), specs: [], ready: undefined, open: 0 });
  }

  /** Gives up a bundle whose topics did not all arrive (a subscribe failed before reaching here). */
  cancelBundle(group: string, reason: Error): void {
    const bundle = this.#bundles.get(group);
    if (!bundle) return;
    this.#bundles.delete(group);
    const rejected = Promise.reject(reason);
    rejected.catch(() => undefined);
    bundle.resolveAll?.(rejected);
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    if (/[*#]/.test(spec.topic) && !/^[A-Za-z0-9._-]+$/.test(spec.topic)) {
      throw new ConfigurationError(`Kafka: pattern subscriptions are not supported ("${spec.topic}")`, {
        broker: 'kafka',
        topic: spec.topic,
        hint: 'Subscribe to each topic by name (capabilities.patternSubscribe is false)',
      });
    }
    const bundle = spec.group === undefined ? undefined : this.#bundles.get(spec.group);
    if (!bundle || !bundle.topics.has(spec.topic) || bundle.handlers.has(spec.topic)) {
      const other = spec.group === undefined ? undefined : [...this.#subscriptions].find((s) => s.groupId === spec.group && !s.topics.includes(spec.topic));
      if (other) {
        // Kafka's assignors (both drivers) hand out a group's partitions as if every member read
        // every topic of the group: members reading different topics leave partitions unread.
        this.#logger.warn(
          { broker: 'kafka', group: spec.group, topic: spec.topic, otherTopics: other.topics },
          'Kafka: one consumer group with members on different topics can leave partitions unread; use one group per topic, or KafkaClient.consume({ topics: [...] })',
        );
      }
      const active = await this.#startConsumer([spec.topic], spec, onDelivery);
      return this.#handle(active, () => true);
    }
    // One of several topics of a bundled group: the consumer starts once every topic is here.
    bundle.handlers.set(spec.topic, onDelivery);
    bundle.specs.push(spec);
    if (bundle.handlers.size === bundle.topics.size) {
      this.#bundles.delete(spec.group as string);
      const handlers = bundle.handlers;
      const dispatch = (delivery: Delivery): Promise<void> => {
        const handler = handlers.get(delivery.message.topic);
        return handler ? handler(delivery) : delivery.nack({ requeue: true, delayMs: 1_000 });
      };
      const prefetch = Math.max(...bundle.specs.map((s) => s.prefetch));
      bundle.ready = this.#startConsumer([...bundle.topics], { ...spec, prefetch }, dispatch);
      bundle.resolveAll?.(bundle.ready);
    } else {
      bundle.ready ??= new Promise<ActiveSubscription>((resolve, reject) => {
        bundle.resolveAll = (started) => started.then(resolve, reject);
      });
    }
    const active = await bundle.ready;
    bundle.open++;
    // Each topic's subscription closes its share; the consumer leaves once all are closed.
    return this.#handle(active, () => --bundle.open === 0);
  }

  #handle(active: ActiveSubscription, lastOut: () => boolean): TransportSubscription {
    let closed = false;
    return {
      pause: () => active.runner.pause(),
      resume: () => active.runner.resume(),
      close: async () => {
        if (closed) return;
        closed = true;
        if (!lastOut()) return;
        this.#subscriptions.delete(active);
        await active.runner.close();
        // A private group is never joined again: remove it rather than leave it to expire (7 days).
        if (active.privateGroup) await active.driver.deleteGroup(active.groupId, { timeoutMs: Math.min(5_000, this.options.requestTimeoutMs) }).catch(() => undefined);
      },
    };
  }

  async #startConsumer(topics: string[], spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<ActiveSubscription> {
    const o = this.options;
    const name = topics.join(', ');
    const privateGroup = spec.group === undefined;
    const groupId = spec.group ?? `contractbus.private.${spec.topic}.${randomUUID()}`;
    const overrides = this.#overrides.get(`${groupId}\u0000${spec.topic}`) ?? {};
    for (const topic of topics) this.#overrides.delete(`${groupId}\u0000${topic}`);
    const driver = await this.#connected();
    const deadLetterTopics = new Map(topics.map((t) => [t, deadLetterTopicFor(t, { dlqSuffix: o.dlqSuffix })]));
    await this.ensureTopics(o.enableDlq ? [...topics, ...deadLetterTopics.values()] : topics);

    let ends: Array<{ topic: string; partition: number; high: string }>;
    try {
      ends = (await Promise.all(topics.map(async (topic) => (await driver.topicOffsets(topic, { timeoutMs: o.requestTimeoutMs })).map((p) => ({ ...p, topic }))))).flat();
    } catch (error) {
      throw new ConnectionError(`Kafka (${driver.name}): cannot read the offsets of "${name}": ${messageOf(error)}`, { broker: 'kafka', topic: name, cause: error });
    }
    // 'latest' for a private (brand-new) group means from now: pin the current end offsets.
    const initialOffsets = spec.startFrom === 'latest' && privateGroup ? ends.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.high })) : undefined;
    const sessionTimeoutMs = overrides.sessionTimeoutMs ?? o.sessionTimeoutMs;
    const heartbeatIntervalMs = overrides.heartbeatIntervalMs ?? Math.min(o.heartbeatIntervalMs, Math.floor(sessionTimeoutMs / 3));
    const runner = new ConsumerRunner({
      groupId,
      autoCommit: overrides.enableAutoCommit ?? true,
      commitIntervalMs: o.commitIntervalMs,
      heartbeatIntervalMs,
      maxRedeliveries: overrides.maxRedeliveries ?? o.maxRedeliveries,
      maxRedeliveryDelayMs: o.maxRedeliveryDelayMs,
      onDelivery,
      deadLetter: (message, attempts) => this.#deadLetter(message, attempts, deadLetterTopics.get(message.topic) ?? `${message.topic}${o.dlqSuffix}`),
      onError: (error, context) => {
        this.#lastError = `${context}: ${error.message}`;
        this.#logger.warn({ broker: 'kafka', topic: name, group: groupId, err: error }, context);
      },
    });
    const failure: { stopped: string | undefined } = { stopped: undefined };
    let active: ActiveSubscription | undefined;
    let consumer: DriverGroupConsumer;
    try {
      consumer = await driver.startGroupConsumer({
        groupId,
        topics,
        fromBeginning: spec.startFrom === 'earliest',
        initialOffsets,
        sessionTimeoutMs,
        heartbeatIntervalMs,
        rebalanceTimeoutMs: o.rebalanceTimeoutMs,
        maxPollRecords: overrides.maxPollRecords ?? o.maxPollRecords,
        // More workers than partitions only costs (kafkajs runs a worker per slot).
        partitionsConcurrently: Math.max(1, Math.min(spec.prefetch, ends.length || 1)),
        onBatch: runner.onBatch,
        onAssigned: runner.onAssigned,
        onRevoked: runner.onRevoked,
        onError: (error, willRestart) => {
          this.#lastError = `consumer of "${name}" (group "${groupId}"): ${error.message}`;
          failure.stopped = willRestart ? undefined : error.message;
          if (active) active.stopped = failure.stopped;
          this.#logger.error({ broker: 'kafka', topic: name, group: groupId, willRestart, err: error }, 'Kafka consumer failed');
        },
      });
      runner.attach(consumer);
      // A subscription is live once the group handed out partitions: publishes after this resolves
      // are seen even with startFrom 'latest'.
      const joinTimeoutMs = sessionTimeoutMs + o.rebalanceTimeoutMs;
      await withTimeout(consumer.joined, joinTimeoutMs, `join group "${groupId}"`);
    } catch (error) {
      await runner.close().catch(() => undefined);
      throw new ConnectionError(`Kafka (${driver.name}): cannot consume "${name}" in group "${groupId}": ${messageOf(error)}`, {
        broker: 'kafka',
        topic: name,
        cause: error,
        hint: 'Check the broker is up and the group coordinator is available (first joins can take seconds)',
      });
    }
    active = { topic: name, topics, groupId, privateGroup, runner, consumer, driver, stopped: failure.stopped };
    this.#subscriptions.add(active);
    return active;
  }

  async #deadLetter(message: WireMessage, attempts: number, deadLetterTopic: string): Promise<void> {
    if (!this.options.enableDlq) return;
    const now = Date.now();
    await this.send(
      {
        ...message,
        topic: deadLetterTopic,
        headers: {
          ...message.headers,
          ...deadLetterHeaders({ reason: `redelivered ${attempts} times (maxRedeliveries ${this.options.maxRedeliveries})`, attempts, originalTopic: message.topic, lastFailureAt: now }),
        },
      },
      { timeoutMs: this.options.requestTimeoutMs },
    );
  }

  /** Group member ids of this client's subscriptions (diagnostics, tests). */
  memberIds(): Array<string | undefined> {
    return [...this.#subscriptions].map((s) => s.consumer.memberId());
  }

  /** Partitions currently assigned to this client's subscriptions. */
  assignedPartitions(): number {
    let count = 0;
    for (const s of this.#subscriptions) count += s.runner.assignment().length;
    return count;
  }

  /** Manual commit: `offset` is the next offset to read (last handled + 1). */
  async commitOffset(topic: string, partition: number, offset: string | number | bigint): Promise<void> {
    const owner = [...this.#subscriptions].find((s) => s.topics.includes(topic) && s.runner.owns(topic, partition));
    if (!owner) {
      throw new ConfigurationError(`Kafka: partition ${partition} of "${topic}" is not assigned to a consumer of this client`, {
        broker: 'kafka',
        topic,
        hint: 'Commit from inside the handler, while the partition is assigned to this consumer',
      });
    }
    await withTimeout(owner.runner.commit({ topic, partition, offset: String(offset) }), this.options.requestTimeoutMs, `commit ${topic}[${partition}]@${String(offset)}`);
  }

  async health(): Promise<HealthStatus> {
    const issues: string[] = [];
    const driver = this.#driver;
    const details: Record<string, unknown> = { driver: this.driverName, brokers: this.options.brokers, securityProtocol: this.options.securityProtocol, pendingPublishes: this.#pendingPublishes };
    if (!driver || !driver.isConnected()) issues.push(`Kafka: not connected to ${this.options.brokers.join(',')}`);
    if (driver) {
      const timeoutMs = Math.min(5_000, this.options.requestTimeoutMs);
      try {
        await driver.listTopics({ timeoutMs });
      } catch (error) {
        issues.push(`Kafka: brokers do not answer: ${messageOf(error)}`);
      }
      const groups: unknown[] = [];
      for (const s of this.#subscriptions) {
        const assignment = s.consumer.assignment();
        const group: Record<string, unknown> = { topic: s.topic, groupId: s.groupId, memberId: s.consumer.memberId(), assignment, lastCommitError: s.runner.lastCommitError };
        if (s.stopped) {
          group['stopped'] = s.stopped;
          issues.push(`Kafka: the consumer of "${s.topic}" (group "${s.groupId}") stopped: ${s.stopped}. Close and subscribe again`);
        }
        if (assignment.length === 0) group['note'] = 'no partitions assigned (more consumers than partitions, or rebalancing)';
        try {
          group['lag'] = (await Promise.all(s.topics.map((t) => this.lag(s.groupId, t, timeoutMs)))).flat();
        } catch (error) {
          group['lagError'] = messageOf(error);
        }
        groups.push(group);
      }
      details['subscriptions'] = groups;
    }
    if (this.#lastError) details['lastError'] = this.#lastError;
    return { isHealthy: issues.length === 0, issues, details };
  }

  /** Consumer lag per partition: high watermark minus the group's committed offset. */
  async lag(groupId: string, topic: string, timeoutMs = this.options.requestTimeoutMs): Promise<PartitionLag[]> {
    const driver = await this.#connected();
    const [offsets, committed] = await Promise.all([driver.topicOffsets(topic, { timeoutMs }), driver.committedOffsets(groupId, topic, { timeoutMs })]);
    return offsets.map((p) => {
      const c = committed.get(p.partition);
      const from = c ?? p.low;
      return { topic, partition: p.partition, committed: c, high: p.high, lag: Math.max(0, Number(BigInt(p.high) - BigInt(from))) };
    });
  }

  /** Offsets of a topic per partition (low = first kept, high = next to be written). */
  async topicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>> {
    const driver = await this.#connected();
    return driver.topicOffsets(topic, { timeoutMs: this.options.requestTimeoutMs });
  }
}

/**
 * One line out of nested client errors (AggregateError, kafkajs `errors`, @platformatic/kafka
 * `errors` + `cause` chains): distinct messages along the first chain, outermost first, so an
 * authentication failure is not hidden behind "Connection failed".
 */
/** What to do about a failed connect, read from the error chain's text. */
export function connectHint(text: string, securityProtocol: string, saslMechanism: string | undefined): string {
  if (/authentication|sasl/i.test(text)) return `Check saslUsername, saslPassword and saslMechanism (${saslMechanism ?? 'none'}) against the broker's SASL users`;
  if (/unable to verify|self[- ]signed|local issuer|certificate has expired|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(text)) {
    return "The broker's TLS certificate is not trusted: pass sslCafile (the CA that signed the broker's certificate)";
  }
  if (/altnames|hostname\/IP does not match/i.test(text)) return "The broker's TLS certificate does not name the host you connect to: use the host name it was issued for";
  if (/bad certificate|certificate required|alert number (42|116)/i.test(text)) return 'The broker requires a client certificate (mutual TLS): pass sslCertfile and sslKeyfile';
  const tls = securityProtocol === 'SSL' || securityProtocol === 'SASL_SSL';
  if (tls && /connection closed|ECONNRESET|socket hang up/i.test(text)) {
    return 'The broker closed the TLS connection: if its listener requires a client certificate, pass sslCertfile and sslKeyfile; check the port is a TLS listener';
  }
  return `Is Kafka running and reachable (securityProtocol ${securityProtocol})? Locally: npm run brokers -- start kafka`;
}

export function messageOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const text = (current instanceof Error ? current.message : String(current)).replace(/\.+$/, '');
    if (text && !parts.includes(text)) parts.push(text);
    if (!(current instanceof Error)) break;
    const nested = (current as Error & { errors?: unknown[] }).errors;
    current = Array.isArray(nested) && nested.length > 0 ? nested[nested.length - 1] : current.cause;
  }
  return parts.slice(0, 4).join(': ');
}

const DRIVER_PACKAGE: Record<KafkaDriverName, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' };

/**
 * Which driver to use given the installed packages: the asked one, or, when the user chose none
 * and the default's package is missing, the other one. Neither installed: a clear error.
 */
async function loadDriverPackage(wanted: KafkaDriverName, mayFallBack: boolean): Promise<KafkaDriverName> {
  const candidates: KafkaDriverName[] = mayFallBack ? [wanted, wanted === 'kafkajs' ? 'platformatic' : 'kafkajs'] : [wanted];
  for (const name of candidates) {
    try {
      await import(DRIVER_PACKAGE[name] as string);
      return name;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  const packages = candidates.map((n) => DRIVER_PACKAGE[n]);
  throw new ConfigurationError(`Kafka: the ${packages.join(' or ')} package is not installed`, {
    broker: 'kafka',
    hint: `Install one: npm install ${packages[0]}${packages.length > 1 ? ` (or ${packages[1]})` : ''}`,
  });
}
