/**
 * kafkajs 2.2.4 behind the driver seam. kafkajs has had no release since 2023 and only speaks the
 * classic (eager) group protocol, but its request versions are all above the ranges Kafka 4
 * removed (KIP-896), so it works against Kafka 4 brokers.
 *
 * Why eachBatch and not eachMessage: with eachBatchAutoResolve off we tell kafkajs exactly which
 * offsets are done, so a batch cut short by a rebalance is fetched again from the first unhandled
 * record, and we can heartbeat while a slow handler runs.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaConfig, Message, Producer, SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type {
  BatchContext,
  CommitRequest,
  DriverGroupConsumer,
  GroupConsumerSpec,
  IncomingRecord,
  KafkaDriver,
  OutgoingRecord,
  PartitionOffsets,
  ProducedRecord,
  TopicPartition,
  TopicSpec,
} from '../driver.ts';
import { DecodedRecord } from '../wire.ts';
import { withTimeout } from './timeout.ts';

export interface KafkajsDriverOptions {
  brokers: string[];
  clientId: string;
  ssl?: TlsConnectionOptions | boolean | undefined;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  idempotent: boolean;
  /** An existing `Kafka` instance; the driver then never builds its own. */
  kafka?: Kafka | undefined;
}

type KafkajsModule = typeof import('kafkajs');

export async function createKafkajsDriver(options: KafkajsDriverOptions): Promise<KafkaDriver> {
  const lib: KafkajsModule = await import('kafkajs');
  return new KafkajsDriver(lib, options);
}

class KafkajsDriver implements KafkaDriver {
  readonly name = 'kafkajs';
  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #admin: Admin;
  readonly #consumers = new Set<KafkajsGroupConsumer>();
  #connected = false;

  constructor(lib: KafkajsModule, options: KafkajsDriverOptions) {
    const config: KafkaConfig = {
      brokers: options.brokers,
      clientId: options.clientId,
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      // kafkajs logs every retry at ERROR level on stdout; our errors carry the detail instead.
      logLevel: lib.logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000 },
    };
    if (options.ssl !== undefined) config.ssl = options.ssl;
    if (options.sasl) config.sasl = options.sasl as SASLOptions;
    this.#kafka = options.kafka ?? new lib.Kafka(config);
    this.#producer = this.#kafka.producer({
      idempotent: options.idempotent,
      // Idempotence allows up to 5 in flight while keeping order per partition.
      maxInFlightRequests: options.idempotent ? 5 : 1,
      allowAutoTopicCreation: false,
      createPartitioner: lib.Partitioners.DefaultPartitioner,
    });
    this.#admin = this.#kafka.admin();
  }

  async connect(): Promise<void> {
    await Promise.all([this.#producer.connect(), this.#admin.connect()]);
    this.#connected = true;
  }

  async close(): Promise<void> {
    this.#connected = false;
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    await Promise.allSettled([this.#producer.disconnect(), this.#admin.disconnect()]);
  }

  isConnected(): boolean {
    return this.#connected;
  }

  async produce(records: OutgoingRecord[], options: { acks: -1 | 0 | 1; timeoutMs: number }): Promise<ProducedRecord[]> {
    const single = records.length === 1 ? records[0] : undefined;
    if (single) {
      // The publish path: one record, one send, its own offset.
      const [meta] = await withTimeout(this.#producer.send({ topic: single.topic, acks: options.acks, timeout: options.timeoutMs, messages: [toMessage(single)] }), options.timeoutMs, `produce to "${single.topic}"`);
      return [{ topic: single.topic, partition: meta?.partition ?? single.partition ?? 0, offset: meta?.baseOffset ?? meta?.offset ?? '-1' }];
    }
    // One send per topic; kafkajs returns one entry per partition written (baseOffset of the batch).
    const byTopic = new Map<string, Array<{ record: OutgoingRecord; index: number }>>();
    records.forEach((record, index) => {
      const list = byTopic.get(record.topic) ?? [];
      list.push({ record, index });
      byTopic.set(record.topic, list);
    });
    const out: ProducedRecord[] = new Array<ProducedRecord>(records.length);
    await Promise.all(
      [...byTopic].map(async ([topic, list]) => {
        const result = await withTimeout(
          this.#producer.send({
            topic,
            acks: options.acks,
            timeout: options.timeoutMs,
            messages: list.map(({ record }) => toMessage(record)),
          }),
          options.timeoutMs,
          `produce to "${topic}"`,
        );
        // Offsets per record are only exact for single-record sends (the common publish path);
        // for batches we report the partition's base offset advanced by the record's position.
        const seen = new Map<number, number>();
        for (const { record, index } of list) {
          const meta = record.partition === undefined && result.length === 1 ? result[0] : result.find((r) => r.partition === record.partition) ?? result[0];
          const partition = meta?.partition ?? record.partition ?? 0;
          const position = seen.get(partition) ?? 0;
          seen.set(partition, position + 1);
          const base = meta?.baseOffset ?? meta?.offset;
          out[index] = { topic, partition, offset: base === undefined ? '-1' : (BigInt(base) + BigInt(position)).toString() };
        }
      }),
    );
    return out;
  }

  async createTopics(topics: TopicSpec[], options: { timeoutMs: number }): Promise<void> {
    if (topics.length === 0) return;
    const deadline = Date.now() + options.timeoutMs;
    try {
      await this.#admin.createTopics({
        waitForLeaders: true,
        timeout: options.timeoutMs,
        topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: t.replicationFactor })),
      });
    } catch (error) {
      // kafkajs reports TOPIC_ALREADY_EXISTS per topic when another client won the race.
      if (isAlreadyExists(error)) return;
      // On a broker that has just started, kafkajs's wait for the new topic's leaders gives up at
      // the first UNKNOWN_TOPIC_OR_PARTITION (it only retries LEADER_NOT_AVAILABLE): the topic was
      // created, its metadata has not reached every listener yet. Wait for it ourselves.
      if (!hasType(error, 'UNKNOWN_TOPIC_OR_PARTITION') || !(await this.#leadersKnown(topics, deadline))) throw error;
    }
  }

  /** Polls metadata until every partition of `topics` has a leader; false at the deadline. */
  async #leadersKnown(topics: TopicSpec[], deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      const metadata = await this.#admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) }).catch(() => undefined);
      const ready = metadata?.topics.every((t) => {
        const spec = topics.find((s) => s.topic === t.name);
        return t.partitions.length >= (spec?.partitions ?? 1) && t.partitions.every((p) => p.leader >= 0);
      });
      if (ready === true && metadata?.topics.length === topics.length) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  async listTopics(options: { timeoutMs: number }): Promise<string[]> {
    return withTimeout(this.#admin.listTopics(), options.timeoutMs, 'list topics');
  }

  async topicOffsets(topic: string, options: { timeoutMs: number }): Promise<PartitionOffsets[]> {
    const rows = await withTimeout(this.#admin.fetchTopicOffsets(topic), options.timeoutMs, `fetch offsets of "${topic}"`);
    return rows.map((r) => ({ partition: r.partition, low: r.low, high: r.high })).sort((a, b) => a.partition - b.partition);
  }

  async committedOffsets(groupId: string, topic: string, options: { timeoutMs: number }): Promise<Map<number, string>> {
    const rows = await withTimeout(this.#admin.fetchOffsets({ groupId, topics: [topic] }), options.timeoutMs, `fetch committed offsets of group "${groupId}"`);
    const out = new Map<number, string>();
    for (const t of rows) for (const p of t.partitions) if (p.offset !== '-1') out.set(p.partition, p.offset);
    return out;
  }

  async deleteGroup(groupId: string, options: { timeoutMs: number }): Promise<void> {
    await withTimeout(this.#admin.deleteGroups([groupId]), options.timeoutMs, `delete group "${groupId}"`);
  }

  async startGroupConsumer(spec: GroupConsumerSpec): Promise<DriverGroupConsumer> {
    const consumer = new KafkajsGroupConsumer(this.#kafka, spec, () => this.#consumers.delete(consumer));
    this.#consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.#consumers.delete(consumer);
      await consumer.close().catch(() => undefined);
      throw error;
    }
    return consumer;
  }
}

class KafkajsGroupConsumer implements DriverGroupConsumer {
  readonly groupId: string;
  readonly joined: Promise<void>;
  readonly #spec: GroupConsumerSpec;
  readonly #consumer: Consumer;
  readonly #onClosed: () => void;
  #assignment: TopicPartition[] = [];
  #memberId: string | undefined;
  /** Dropped per partition at its first commit: from then on the committed offset rules. */
  readonly #initialOffsets = new Map<string, string>();
  /** Bumped when a rebalance starts: batches of an older generation are stale. */
  #generation = 0;
  /** Bumped when this driver seeks (see #eachBatch's isStale). */
  #seeks = 0;
  #stopping = false;
  #paused = false;
  #resolveJoined!: () => void;
  readonly #removers: Array<() => void> = [];
  /** performance.now() when kafkajs last started a fetch (see QUICK_FETCH_MS). */
  #fetchStartedAt = 0;

  constructor(kafka: Kafka, spec: GroupConsumerSpec, onClosed: () => void) {
    this.#spec = spec;
    this.groupId = spec.groupId;
    this.#onClosed = onClosed;
    for (const o of spec.initialOffsets ?? []) this.#initialOffsets.set(`${o.topic}:${o.partition}`, o.offset);
    this.joined = new Promise((resolve) => {
      this.#resolveJoined = resolve;
    });
    this.#consumer = kafka.consumer({
      groupId: spec.groupId,
      sessionTimeout: spec.sessionTimeoutMs,
      heartbeatInterval: spec.heartbeatIntervalMs,
      rebalanceTimeout: spec.rebalanceTimeoutMs,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    const { events } = this.#consumer;
    this.#removers.push(
      this.#consumer.on(events.GROUP_JOIN, (event) => {
        const assignment: TopicPartition[] = [];
        for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
          for (const partition of partitions) assignment.push({ topic, partition });
        }
        this.#memberId = event.payload.memberId;
        this.#assignment = assignment;
        // kafkajs' setOffsets joins the group with a throwaway consumer (seconds): seek instead,
        // for partitions this group never committed (it is brand new, we are its only member).
        for (const { topic, partition } of assignment) {
          const offset = this.#initialOffsets.get(`${topic}:${partition}`);
          if (offset === undefined) continue;
          this.#seeks++;
          this.#consumer.seek({ topic, partition, offset });
        }
        this.#spec.onAssigned(assignment);
        this.#resolveJoined();
      }),
      // Eager protocol: every partition is given up when a rebalance starts.
      this.#consumer.on(events.REBALANCING, () => this.#revokeAll()),
      this.#consumer.on(events.CRASH, (event) => {
        this.#revokeAll();
        this.#spec.onError(event.payload.error, event.payload.restart);
      }),
      this.#consumer.on(events.STOP, () => this.#revokeAll()),
      this.#consumer.on(events.FETCH_START, () => {
        this.#fetchStartedAt = performance.now();
      }),
    );
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.#spec.topics, fromBeginning: this.#spec.fromBeginning || this.#initialOffsets.size > 0 });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, this.#spec.partitionsConcurrently),
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  #revokeAll(): void {
    this.#generation++;
    if (this.#assignment.length === 0) return;
    const revoked = this.#assignment;
    this.#assignment = [];
    this.#spec.onRevoked(revoked);
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const generation = this.#generation;
    const seeks = this.#seeks;
    let rebalancing = false;
    const context: BatchContext = {
      // Asked before every record. payload.isStale() (a pending seek of this partition) builds a
      // key string and looks it up each time (~0.2 µs): only this driver seeks its consumer, so it
      // is asked only once this driver has sought since the batch began.
      isStale: () => rebalancing || this.#stopping || generation !== this.#generation || !payload.isRunning() || (seeks !== this.#seeks && payload.isStale()),
      heartbeat: async () => {
        try {
          await payload.heartbeat();
        } catch {
          // REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID: stop after the record in hand; kafkajs rejoins.
          rebalancing = true;
        }
      },
      resolve: (offset) => {
        if (!context.isStale()) payload.resolveOffset(offset);
      },
    };
    // The whole batch: kafkajs decodes a full fetch response each time, so cutting it at
    // maxPollRecords would fetch and decode the rest again (batches are bounded by bytes instead).
    const records: IncomingRecord[] = batch.messages.map((m) => {
      const record = new DecodedRecord(
        batch.topic,
        batch.partition,
        offsetValue(m.offset),
        m.key === null || m.key === undefined ? undefined : m.key.toString('utf8'),
        m.value ?? EMPTY,
        Number(m.timestamp),
        m.offset,
      );
      addHeaders(record, m.headers);
      return record;
    });
    await this.#spec.onBatch(records, context);
    // kafkajs fetches again as soon as every batch of the last fetch was handled: see QUICK_FETCH_MS.
    if (performance.now() - this.#fetchStartedAt < QUICK_FETCH_MS && !context.isStale()) await linger();
  }

  assignment(): TopicPartition[] {
    return this.#assignment;
  }

  memberId(): string | undefined {
    return this.#memberId;
  }

  async commit(offsets: CommitRequest[]): Promise<void> {
    if (offsets.length === 0) return;
    for (const o of offsets) this.#initialOffsets.delete(`${o.topic}:${o.partition}`);
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
  }

  pause(): void {
    this.#paused = true;
    this.#consumer.pause(this.#spec.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#consumer.resume(this.#spec.topics.map((topic) => ({ topic })));
  }

  async close(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#revokeAll();
    try {
      await this.#consumer.disconnect();
    } finally {
      for (const remove of this.#removers) remove();
      this.#onClosed();
    }
  }
}

function toMessage(record: OutgoingRecord): Message {
  const message: Message = {
    key: record.key ?? null,
    value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
    headers: record.headers,
    timestamp: String(record.timestamp),
  };
  if (record.partition !== undefined) message.partition = record.partition;
  return message;
}

/**
 * A fetch answered and handled within 0.5 ms of its start means the broker had records waiting
 * and hands them out as fast as we ask: with minBytes 1, a consumer that keeps up with a busy
 * producer fetched ~1 record per request (4 000 fetches for 5 000 records, each costing ~0.1 ms
 * of main-thread CPU in kafkajs plus a socket write). Such a batch then holds the next fetch back
 * by one timer tick (LINGER_MS, ~1 ms), so it brings several records. A fetch that waited at the
 * broker for a record (a quiet or paced topic) takes longer than that and is never held back, and
 * neither is a backlog (its batches take longer to handle).
 */
const QUICK_FETCH_MS = 0.5;
const LINGER_MS = 1;

function linger(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, LINGER_MS));
}

/** A decimal offset as a bigint: through a Number when it is exact there (half the cost of BigInt(text)). */
function offsetValue(text: string): bigint {
  return text.length < 16 ? BigInt(Number(text)) : BigInt(text);
}

/** The value of a record without one (zero bytes: nothing to mutate, so one is shared). */
const EMPTY = new Uint8Array(0);

/** kafkajs keeps a repeated header name as an array of its values: the last one wins, as in a map. */
function addHeaders(record: DecodedRecord, headers: Record<string, Buffer | string | Array<Buffer | string> | undefined> | undefined): void {
  if (!headers) return;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    if (typeof last === 'string') record.addHeader(name, last);
    else record.addHeaderValue(name, last);
  }
}

function hasType(error: unknown, type: string): boolean {
  if (!(error instanceof Error)) return false;
  const nested = (error as Error & { errors?: unknown[] }).errors;
  if (Array.isArray(nested) && nested.some((e) => hasType(e, type))) return true;
  return (error as { type?: string }).type === type || hasType((error as { cause?: unknown }).cause, type) || hasType((error as { originalError?: unknown }).originalError, type);
}

function isAlreadyExists(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const nested = (error as Error & { errors?: unknown[] }).errors;
  if (Array.isArray(nested) && nested.length > 0) {
    return nested.every((e) => (e as { type?: string }).type === 'TOPIC_ALREADY_EXISTS');
  }
  return (error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS';
}
