/**
 * @platformatic/kafka 2 behind the driver seam: maintained, pure TypeScript, heartbeats on its own
 * timer (so long handlers never need a manual heartbeat).
 *
 * Its consumer is one stream of records for all assigned partitions. The seam promises serial
 * batches per partition and concurrency across partitions, so this file keeps a small queue per
 * partition and a worker per partition. Two subtleties of the stream:
 * - after every group join it rewinds each assigned partition to its committed offset, so records
 *   already handed out come again: `lastOffset` per partition drops them;
 * - records fetched before a rebalance may still sit in the stream's buffer: each record carries
 *   the group generation it was fetched in, and a partition (re)assigned in generation G ignores
 *   records of older generations (they may be past the committed offset the new owner starts at).
 */
import type { Admin, Consumer, Message, MessagesStream, Producer } from '@platformatic/kafka';
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
import { keyHash } from '../partitioner.ts';
import { DecodedRecord } from '../wire.ts';
import { withTimeout } from './timeout.ts';

export interface PlatformaticDriverOptions {
  brokers: string[];
  clientId: string;
  tls?: TlsConnectionOptions | undefined;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string } | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  idempotent: boolean;
  /** An existing Producer to publish with (it must use Buffer serialisers, the default). */
  producer?: Producer | undefined;
}

type PlatformaticModule = typeof import('@platformatic/kafka');

export async function createPlatformaticDriver(options: PlatformaticDriverOptions): Promise<KafkaDriver> {
  const lib: PlatformaticModule = await import('@platformatic/kafka');
  return new PlatformaticDriver(lib, options);
}

function baseOptions(options: PlatformaticDriverOptions, role: string): {
  clientId: string;
  bootstrapBrokers: string[];
  connectTimeout: number;
  requestTimeout: number;
  retries: number;
  retryDelay: number;
  tls?: TlsConnectionOptions;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
} {
  return {
    clientId: `${options.clientId}-${role}`,
    bootstrapBrokers: options.brokers,
    connectTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    retries: 5,
    retryDelay: 250,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.sasl ? { sasl: options.sasl } : {}),
  };
}

/**
 * Header names, and the constant values every record carries, encoded once and shared by every
 * produce (the library only copies their bytes into the request). Bounded: names are few in
 * practice, and past MAX_CACHED_NAMES new ones are encoded per record as before.
 */
const MAX_CACHED_NAMES = 256;
const nameBytes = new Map<string, Buffer>();
const CONSTANT_VALUES = new Map<string, Buffer>([['application/json', Buffer.from('application/json')]]);

function headerNameBytes(name: string): Buffer {
  let bytes = nameBytes.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name);
    if (nameBytes.size < MAX_CACHED_NAMES) nameBytes.set(name, bytes);
  }
  return bytes;
}

function headerValueBytes(value: string): Buffer {
  return CONSTANT_VALUES.get(value) ?? Buffer.from(value);
}

/**
 * Java's partitioner for keyed records: murmur2 of the key bytes & 0x7fffffff (the library takes it
 * modulo the partition count), as kafkajs's DefaultPartitioner and the Java client do. The
 * library's own default (murmur2 >>> 0) puts about half of all keys on another partition than
 * they do, so a key's records would split across two partitions when a service switches driver or
 * shares a topic with a Java producer. Keyless records go round-robin per topic, as with the
 * library's default.
 */
export function javaCompatiblePartitioner(): (message: { topic: string }, key: Buffer | undefined) => number {
  const next = new Map<string, number>();
  return (message, key) => {
    if (Buffer.isBuffer(key)) return keyHash(key);
    const n = next.get(message.topic) ?? 0;
    next.set(message.topic, (n + 1) & 0x7fffffff);
    return n;
  };
}

class PlatformaticDriver implements KafkaDriver {
  readonly name = 'platformatic';
  readonly #lib: PlatformaticModule;
  readonly #options: PlatformaticDriverOptions;
  readonly #producer: Producer;
  readonly #ownsProducer: boolean;
  readonly #admin: Admin;
  readonly #consumers = new Set<PlatformaticGroupConsumer>();
  #connected = false;

  constructor(lib: PlatformaticModule, options: PlatformaticDriverOptions) {
    this.#lib = lib;
    this.#options = options;
    this.#ownsProducer = options.producer === undefined;
    this.#producer =
      options.producer ??
      new lib.Producer({
        ...baseOptions(options, 'producer'),
        idempotent: options.idempotent,
        acks: lib.ProduceAcks.ALL,
        autocreateTopics: false,
        partitioner: javaCompatiblePartitioner(),
      });
    this.#admin = new lib.Admin(baseOptions(options, 'admin'));
  }

  async connect(): Promise<void> {
    // Both clients connect lazily; one metadata round trip proves the brokers answer (and SASL works).
    await withTimeout(this.#admin.metadata({ topics: [] }), this.#options.connectionTimeoutMs + this.#options.requestTimeoutMs, 'connect (metadata)');
    // A producer the user passed in keeps the settings it was built with.
    if (this.#ownsProducer && this.#options.idempotent && this.#producer.producerId === undefined) {
      await withTimeout(this.#producer.initIdempotentProducer({}), this.#options.requestTimeoutMs * 2, 'init idempotent producer');
    }
    this.#connected = true;
  }

  async close(): Promise<void> {
    this.#connected = false;
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    await Promise.allSettled([this.#ownsProducer ? this.#producer.close() : Promise.resolve(), this.#admin.close()]);
  }

  isConnected(): boolean {
    return this.#connected && !this.#producer.closed;
  }

  async produce(records: OutgoingRecord[], options: { acks: -1 | 0 | 1; timeoutMs: number }): Promise<ProducedRecord[]> {
    const result = await withTimeout(
      this.#producer.send({
        acks: options.acks,
        messages: records.map((r) => {
          const headers = new Map<Buffer, Buffer>();
          for (const name in r.headers) headers.set(headerNameBytes(name), headerValueBytes(r.headers[name] as string));
          return {
            topic: r.topic,
            key: r.key === undefined ? undefined : Buffer.from(r.key),
            value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
            headers,
            timestamp: BigInt(r.timestamp),
            ...(r.partition === undefined ? {} : { partition: r.partition }),
          };
        }),
      }),
      options.timeoutMs,
      `produce to "${records[0]?.topic ?? '?'}"`,
    );
    // The publish path: one record, one partition written.
    const offsets = result.offsets ?? [];
    const only = records.length === 1 && offsets.length === 1 ? offsets[0] : undefined;
    if (only !== undefined && only.topic === records[0]!.topic) return [{ topic: only.topic, partition: only.partition, offset: only.offset.toString() }];
    // The result holds one base offset per topic-partition written; records of the same
    // partition were appended in order, so each gets base + its position.
    const bases = new Map<string, bigint>();
    for (const o of result.offsets ?? []) bases.set(`${o.topic}:${o.partition}`, o.offset);
    const seen = new Map<string, bigint>();
    return records.map((r) => {
      let partition = r.partition;
      if (partition === undefined) {
        const candidates = (result.offsets ?? []).filter((o) => o.topic === r.topic);
        partition = candidates.length === 1 ? candidates[0]!.partition : -1;
      }
      const key = `${r.topic}:${partition}`;
      const position = seen.get(key) ?? 0n;
      seen.set(key, position + 1n);
      const base = bases.get(key);
      return { topic: r.topic, partition, offset: base === undefined ? '-1' : (base + position).toString() };
    });
  }

  async createTopics(topics: TopicSpec[], options: { timeoutMs: number }): Promise<void> {
    if (topics.length === 0) return;
    const existing = new Set(await this.listTopics(options));
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    try {
      await withTimeout(
        this.#admin.createTopics({ topics: missing.map((t) => ({ topic: t.topic, partitions: t.partitions, replicas: t.replicationFactor })) }),
        options.timeoutMs,
        `create topics ${missing.map((t) => `"${t.topic}"`).join(', ')}`,
      );
    } catch (error) {
      if (!String((error as Error).message ?? '').includes('TOPIC_ALREADY_EXISTS') && !hasApiId(error, 'TOPIC_ALREADY_EXISTS')) throw error;
    }
    // createTopics returns before every broker knows the leaders: wait until metadata shows them,
    // so the first produce does not fail with UNKNOWN_TOPIC_OR_PARTITION.
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      try {
        const metadata = await this.#admin.metadata({ topics: missing.map((t) => t.topic), forceUpdate: true });
        const ready = missing.every((t) => {
          const m = metadata.topics.get(t.topic);
          return m !== undefined && m.partitionsCount >= t.partitions && m.partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
      } catch {
        // not visible yet
      }
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async listTopics(options: { timeoutMs: number }): Promise<string[]> {
    return withTimeout(this.#admin.listTopics(), options.timeoutMs, 'list topics');
  }

  async topicOffsets(topic: string, options: { timeoutMs: number }): Promise<PartitionOffsets[]> {
    const metadata = await withTimeout(this.#admin.metadata({ topics: [topic] }), options.timeoutMs, `metadata of "${topic}"`);
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const partitions = Array.from({ length: count }, (_, i) => i);
    const list = (timestamp: bigint) =>
      withTimeout(
        this.#admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }] }),
        options.timeoutMs,
        `list offsets of "${topic}"`,
      );
    const [low, high] = await Promise.all([list(this.#lib.ListOffsetTimestamps.EARLIEST), list(this.#lib.ListOffsetTimestamps.LATEST)]);
    const lowBy = new Map<number, bigint>();
    for (const t of low) for (const p of t.partitions) lowBy.set(p.partitionIndex, p.offset);
    const out: PartitionOffsets[] = [];
    for (const t of high) for (const p of t.partitions) out.push({ partition: p.partitionIndex, low: String(lowBy.get(p.partitionIndex) ?? 0n), high: String(p.offset) });
    return out.sort((a, b) => a.partition - b.partition);
  }

  async committedOffsets(groupId: string, topic: string, options: { timeoutMs: number }): Promise<Map<number, string>> {
    const metadata = await withTimeout(this.#admin.metadata({ topics: [topic] }), options.timeoutMs, `metadata of "${topic}"`);
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const groups = await withTimeout(
      this.#admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: count }, (_, i) => i) }] }] }),
      options.timeoutMs,
      `committed offsets of group "${groupId}"`,
    );
    const out = new Map<number, string>();
    for (const g of groups) for (const t of g.topics) for (const p of t.partitions) if (p.committedOffset >= 0n) out.set(p.partitionIndex, String(p.committedOffset));
    return out;
  }

  async #setGroupOffsets(groupId: string, offsets: CommitRequest[], options: { timeoutMs: number }): Promise<void> {
    const byTopic = new Map<string, Array<{ partition: number; offset: bigint }>>();
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), { partition: o.partition, offset: BigInt(o.offset) }]);
    await withTimeout(
      this.#admin.alterConsumerGroupOffsets({ groupId, topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })) }),
      options.timeoutMs,
      `set offsets of group "${groupId}"`,
    );
  }

  async deleteGroup(groupId: string, options: { timeoutMs: number }): Promise<void> {
    await withTimeout(this.#admin.deleteGroups({ groups: [groupId] }), options.timeoutMs, `delete group "${groupId}"`);
  }

  async startGroupConsumer(spec: GroupConsumerSpec): Promise<DriverGroupConsumer> {
    // A brand-new group: commit its start offsets with the admin API before anyone joins.
    if (spec.initialOffsets && spec.initialOffsets.length > 0) await this.#setGroupOffsets(spec.groupId, spec.initialOffsets, { timeoutMs: this.#options.requestTimeoutMs });
    const consumer = new PlatformaticGroupConsumer(this.#lib, this.#options, spec, () => this.#consumers.delete(consumer));
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

/**
 * Bytes per fetch response: at most 10 MiB, 256 KiB per partition, instead of the library's 50 MiB.
 * A response is decoded as a whole and pushed into the stream at once, so this bounds memory on a
 * backlog; and the library's reader looks up every field from the first chunk of the response
 * (64 KiB socket reads), so decoding costs more per record the more chunks a response spans (a
 * 20 000-record backlog drained in ~8 µs of decoding per record at 50 MiB, ~1 µs at 1 MiB per
 * partition; 256 KiB saves another ~0.9 µs of main-thread CPU per record on one partition).
 * Not lower: one fetch per broker is in flight at a time, so per-partition bytes per round trip
 * cap a partition's throughput (256 KiB at a 2 ms round trip: ~128 MiB/s; 64 KiB measured only
 * ~0.3 µs cheaper locally, for a quarter of that). A record batch larger than the limit is still
 * returned whole when it comes first in a fetch (KIP-74), as with any limit: big records do not stall.
 */
const FETCH_LIMITS = { maxBytes: 10 * 1_048_576, maxBytesPerPartition: 262_144 } as const;

/** The value of a record without one (zero bytes: nothing to mutate, so one is shared). */
const EMPTY = new Uint8Array(0);

interface PartitionState {
  key: string;
  topic: string;
  partition: number;
  /** Group generation in which this consumer got the partition; older records are ignored. */
  generation: number;
  /** Last offset handed out; it and lower ones come again only after a rejoin (the stream rewinds): dropped. */
  lastOffset: bigint | undefined;
  queue: IncomingRecord[];
  revoked: boolean;
  working: boolean;
  leaderEpoch: number;
}

class PlatformaticGroupConsumer implements DriverGroupConsumer {
  readonly groupId: string;
  readonly joined: Promise<void>;
  readonly #lib: PlatformaticModule;
  readonly #options: PlatformaticDriverOptions;
  readonly #spec: GroupConsumerSpec;
  readonly #onClosed: () => void;
  readonly #partitions = new Map<string, PartitionState>();
  /** The partition of the last record (revoked states are never reused: see #onMessage). */
  #lastState: PartitionState | undefined;
  #consumer: Consumer;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #resolveJoined!: () => void;
  #buffered = 0;
  readonly #maxBuffered: number;
  #userPaused = false;
  #bufferPaused = false;
  #closing = false;
  #restarting: Promise<void> | undefined;
  #active = 0;
  readonly #waiting: PartitionState[] = [];
  readonly #workers = new Set<Promise<void>>();

  constructor(lib: PlatformaticModule, options: PlatformaticDriverOptions, spec: GroupConsumerSpec, onClosed: () => void) {
    this.#lib = lib;
    this.#options = options;
    this.#spec = spec;
    this.groupId = spec.groupId;
    this.#onClosed = onClosed;
    this.#maxBuffered = Math.max(64, spec.maxPollRecords * 2);
    this.joined = new Promise((resolve) => {
      this.#resolveJoined = resolve;
    });
    this.#consumer = this.#newConsumer();
  }

  #newConsumer(): Consumer {
    const spec = this.#spec;
    const consumer = new this.#lib.Consumer({
      ...baseOptions(this.#options, 'consumer'),
      groupId: spec.groupId,
      sessionTimeout: spec.sessionTimeoutMs,
      heartbeatInterval: spec.heartbeatIntervalMs,
      rebalanceTimeout: spec.rebalanceTimeoutMs,
      autocommit: false,
      maxWaitTime: 500,
      highWaterMark: Math.max(16, spec.maxPollRecords),
      ...FETCH_LIMITS,
    });
    consumer.on('consumer:group:join', (payload) => {
      if (consumer === this.#consumer) this.#onJoin(payload.assignments ?? []);
    });
    consumer.on('consumer:group:leave', () => {
      if (consumer === this.#consumer) this.#revoke([...this.#partitions.values()]);
    });
    // Heartbeats failing for longer than the session: the coordinator has given our partitions away.
    consumer.on('consumer:heartbeat:stalled', () => {
      if (consumer === this.#consumer) this.#fail(new Error('Kafka consumer heartbeats stalled'));
    });
    return consumer;
  }

  async start(): Promise<void> {
    const consumer = this.#consumer;
    const stream = await consumer.consume({
      topics: this.#spec.topics,
      mode: 'committed',
      fallbackMode: this.#spec.fromBeginning ? 'earliest' : 'latest',
      autocommit: false,
      sessionTimeout: this.#spec.sessionTimeoutMs,
      heartbeatInterval: this.#spec.heartbeatIntervalMs,
      rebalanceTimeout: this.#spec.rebalanceTimeoutMs,
      maxWaitTime: 500,
      ...FETCH_LIMITS,
    });
    this.#stream = stream;
    this.#bufferPaused = false;
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      if (stream === this.#stream) this.#onMessage(message);
    });
    stream.on('error', (error: Error) => {
      if (stream === this.#stream) this.#fail(error);
    });
    stream.on('close', () => {
      if (stream === this.#stream && !this.#closing) this.#fail(new Error('Kafka consumer stream closed unexpectedly'));
    });
    // The join can complete inside consume(); the event has fired already in that case.
    if (consumer.assignments && this.#partitions.size === 0) this.#onJoin(consumer.assignments);
    this.#applyFlowControl();
  }

  /**
   * The stream is gone (broker restart, lost session): give up every partition (nothing more is
   * committed for them) and join again with a fresh consumer, with backoff, until closed.
   */
  #fail(error: Error): void {
    if (this.#closing || this.#restarting) return;
    this.#revoke([...this.#partitions.values()]);
    this.#spec.onError(error, true);
    this.#restarting = (async () => {
      const old = this.#consumer;
      const oldStream = this.#stream;
      this.#stream = undefined;
      await oldStream?.close().catch(() => undefined);
      await old.close(true).catch(() => undefined);
      for (let attempt = 1; !this.#closing; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)));
        if (this.#closing) break;
        this.#consumer = this.#newConsumer();
        try {
          await this.start();
          return;
        } catch (startError) {
          this.#spec.onError(startError instanceof Error ? startError : new Error(String(startError)), true);
          await this.#consumer.close(true).catch(() => undefined);
        }
      }
    })().finally(() => {
      this.#restarting = undefined;
    });
  }

  #onJoin(assignments: Array<{ topic: string; partitions: number[] }>): void {
    const generation = this.#consumer.generationId;
    const next = new Set<string>();
    const added: TopicPartition[] = [];
    for (const { topic, partitions } of assignments) {
      for (const partition of partitions) {
        const key = `${topic}:${partition}`;
        next.add(key);
        if (!this.#partitions.has(key)) {
          this.#partitions.set(key, { key, topic, partition, generation, lastOffset: undefined, queue: [], revoked: false, working: false, leaderEpoch: -1 });
          added.push({ topic, partition });
        }
      }
    }
    this.#revoke([...this.#partitions.values()].filter((p) => !next.has(p.key)));
    if (added.length > 0) this.#spec.onAssigned(added);
    this.#resolveJoined();
  }

  #revoke(states: PartitionState[]): void {
    if (states.length === 0) return;
    for (const state of states) {
      state.revoked = true;
      this.#buffered -= state.queue.length;
      state.queue = [];
      this.#partitions.delete(state.key);
    }
    this.#spec.onRevoked(states.map((s) => ({ topic: s.topic, partition: s.partition })));
    this.#applyFlowControl();
  }

  #onMessage(message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    // Records come in runs of one partition: skip building a key string per record.
    let state = this.#lastState;
    if (state === undefined || state.revoked || state.partition !== message.partition || state.topic !== message.topic) {
      state = this.#partitions.get(`${message.topic}:${message.partition}`);
      if (!state) return;
      this.#lastState = state;
    }
    const generation = (message.metadata as { consumer?: { generationId?: number } }).consumer?.generationId ?? 0;
    if (generation < state.generation) return;
    if (state.lastOffset !== undefined && message.offset <= state.lastOffset) return;
    state.lastOffset = message.offset;
    state.leaderEpoch = message.leaderEpoch;
    const key = message.key;
    const record = new DecodedRecord(
      message.topic,
      message.partition,
      message.offset,
      key === undefined || key === null || key.length === 0 ? undefined : key.toString('utf8'),
      message.value ?? EMPTY,
      Number(message.timestamp),
    );
    for (const [name, value] of message.headerEntries) record.addHeaderBytes(name, value);
    state.queue.push(record);
    this.#buffered++;
    this.#applyFlowControl();
    this.#schedule(state);
  }

  #schedule(state: PartitionState): void {
    if (state.working || state.queue.length === 0 || this.#waiting.includes(state)) return;
    if (this.#active >= Math.max(1, this.#spec.partitionsConcurrently)) {
      this.#waiting.push(state);
      return;
    }
    this.#run(state);
  }

  #run(state: PartitionState): void {
    state.working = true;
    this.#active++;
    const worker = this.#drain(state).finally(() => {
      state.working = false;
      this.#active--;
      this.#workers.delete(worker);
      const next = this.#waiting.shift();
      if (next) this.#schedule(next);
      if (!state.revoked) this.#schedule(state);
    });
    this.#workers.add(worker);
  }

  async #drain(state: PartitionState): Promise<void> {
    while (!state.revoked && !this.#closing && state.queue.length > 0) {
      const batch = state.queue.splice(0, this.#spec.maxPollRecords);
      this.#buffered -= batch.length;
      this.#applyFlowControl();
      const context: BatchContext = {
        isStale: () => state.revoked || this.#closing,
        heartbeat: async () => undefined,
        resolve: () => undefined,
      };
      try {
        await this.#spec.onBatch(batch, context);
      } catch (error) {
        // onBatch never throws by contract; if it does, stop this partition here (nothing past the
        // last commit is lost: the next owner after a rebalance starts from the committed offset).
        this.#revoke([state]);
        this.#spec.onError(error instanceof Error ? error : new Error(String(error)), false);
      }
    }
  }

  #applyFlowControl(): void {
    const stream = this.#stream;
    if (!stream) return;
    const shouldPause = this.#userPaused || this.#buffered >= this.#maxBuffered;
    if (shouldPause && !this.#bufferPaused) {
      this.#bufferPaused = true;
      stream.pause();
    } else if (!shouldPause && this.#bufferPaused && this.#buffered <= this.#maxBuffered / 2) {
      this.#bufferPaused = false;
      stream.resume();
    }
  }

  assignment(): TopicPartition[] {
    return [...this.#partitions.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  memberId(): string | undefined {
    return this.#consumer.memberId ?? undefined;
  }

  async commit(offsets: CommitRequest[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commit({
      offsets: offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: BigInt(o.offset),
        leaderEpoch: this.#partitions.get(`${o.topic}:${o.partition}`)?.leaderEpoch ?? -1,
      })),
    });
  }

  pause(): void {
    this.#userPaused = true;
    this.#applyFlowControl();
  }

  resume(): void {
    this.#userPaused = false;
    this.#applyFlowControl();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#revoke([...this.#partitions.values()]);
    try {
      await Promise.allSettled([...this.#workers]);
      await this.#restarting;
      await this.#stream?.close().catch(() => undefined);
      await this.#consumer.close(true);
    } finally {
      this.#onClosed();
    }
  }
}

function hasApiId(error: unknown, apiId: string): boolean {
  if (!error || typeof error !== 'object') return false;
  if ((error as { apiId?: string }).apiId === apiId) return true;
  const nested = (error as { errors?: unknown[] }).errors;
  return Array.isArray(nested) && nested.some((e) => hasApiId(e, apiId));
}
