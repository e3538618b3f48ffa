/**
 * `KafkaClient`: the shared `BrokerClient` over `KafkaTransport`, plus Kafka's native extras:
 * `produce` with key/headers/partition, `produceBatch`, `consume` with a group over several
 * topics and Kafka consumer settings, `commitOffset` for manual commits, `lag`.
 */
import { randomUUID } from 'node:crypto';
import { BrokerClient, type BrokerClientOptions } from '../../core/client.ts';
import { ClosedError, ConfigurationError } from '../../core/errors.ts';
import { RESERVED_HEADER_PREFIX } from '../../core/headers.ts';
import type { WireMessage } from '../../core/transport.ts';
import type { Headers, MessageBroker, MessageMetadata, PublishOptions, PublishReceipt, SubscribeOptions, Subscription } from '../../core/types.ts';
import type { PartitionLag } from './driver.ts';
import { KafkaTransport, type KafkaTransportOptions } from './transport.ts';
import { recordPositionOf, type RecordPosition } from './wire.ts';

export interface KafkaClientOptions extends KafkaTransportOptions, BrokerClientOptions {}

export interface ProduceOptions extends PublishOptions {
  /** Write to this partition instead of the one the key hashes to. */
  partition?: number;
}

export interface ProduceBatchItem {
  key?: string;
  value: unknown;
  headers?: Headers;
  messageId?: string;
  correlationId?: string;
}

/** Where a consumed record sits, for manual commits (`commitOffset(topic, partition, nextOffset)`). */
export type KafkaRecordInfo = RecordPosition;

export type KafkaHandler<T> = (message: T, metadata: MessageMetadata, record: KafkaRecordInfo | undefined) => Promise<void> | void;

export interface ConsumeOptions<T = unknown> extends Omit<SubscribeOptions<T>, 'group' | 'startFrom'> {
  topics: string | string[];
  /** Default: the client's `groupId`, else `contractbus`. */
  groupId?: string;
  handler: KafkaHandler<T>;
  /** Where a group without committed offsets starts. Default 'earliest'. */
  autoOffsetReset?: 'earliest' | 'latest';
  maxPollRecords?: number;
  sessionTimeoutMs?: number;
  /**
   * true (default): offsets of handled records are committed for you, after the handler.
   * false: nothing is committed until you call `commitOffset` (the handler's third argument has
   * the partition and the offset to commit).
   */
  enableAutoCommit?: boolean;
}

export class KafkaClient extends BrokerClient {
  readonly kafka: KafkaTransport;

  constructor(options: KafkaClientOptions | string | URL = {}) {
    const resolved: KafkaClientOptions = typeof options === 'string' || options instanceof URL ? { url: options } : options;
    const transport = new KafkaTransport(resolved);
    super(transport, resolved);
    this.kafka = transport;
  }

  /** `publish` plus an explicit partition. Resolves once the broker acknowledged (acks=all by default). */
  async produce(topic: string, message: unknown, options: ProduceOptions = {}): Promise<PublishReceipt> {
    if (options.partition === undefined) return this.publish(topic, message, options);
    const [receipt] = await this.#produceWire([this.#wire(topic, message, options)], options.timeoutMs, options.partition);
    return receipt as PublishReceipt;
  }

  /** One produce request for many messages (one broker round trip per partition leader). */
  async produceBatch(topic: string, messages: ProduceBatchItem[], options: { timeoutMs?: number; partition?: number } = {}): Promise<PublishReceipt[]> {
    if (messages.length === 0) return [];
    const wires = messages.map((m) => {
      const opts: PublishOptions = {};
      if (m.key !== undefined) opts.key = m.key;
      if (m.headers !== undefined) opts.headers = m.headers;
      if (m.messageId !== undefined) opts.messageId = m.messageId;
      if (m.correlationId !== undefined) opts.correlationId = m.correlationId;
      return this.#wire(topic, m.value, opts);
    });
    return this.#produceWire(wires, options.timeoutMs, options.partition);
  }

  async #produceWire(wires: WireMessage[], timeoutMs: number | undefined, partition: number | undefined): Promise<PublishReceipt[]> {
    if (!this.connected) {
      throw new ClosedError(`Cannot produce to topic "${wires[0]?.topic ?? '?'}": the kafka broker is not connected`, {
        broker: 'kafka',
        topic: wires[0]?.topic,
        hint: 'Await kafka.connect() first (and do not produce after disconnect())',
      });
    }
    const produced = await this.kafka.sendBatch(wires, { timeoutMs: timeoutMs ?? this.kafka.options.requestTimeoutMs, ...(partition === undefined ? {} : { partition }) });
    return produced.map((p, i) => ({ messageId: wires[i]!.messageId, topic: wires[i]!.topic, partition: p.partition, offset: p.offset }));
  }

  #wire(topic: string, message: unknown, options: PublishOptions): WireMessage {
    const headers: Headers = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (name.toLowerCase().startsWith(RESERVED_HEADER_PREFIX)) {
        throw new ConfigurationError(`Header "${name}" on topic "${topic}" uses the reserved prefix ${RESERVED_HEADER_PREFIX}`, { broker: 'kafka', topic });
      }
      headers[name] = String(value);
    }
    const wire: WireMessage = {
      messageId: options.messageId ?? randomUUID(),
      topic,
      body: this.codec.encode(message, { topic, broker: this.name }),
      headers,
      contentType: options.contentType ?? this.codec.contentType,
      timestamp: Date.now(),
    };
    if (options.key !== undefined) wire.key = options.key;
    if (options.correlationId !== undefined) wire.correlationId = options.correlationId;
    return wire;
  }

  /**
   * Consumes `topics` in one consumer group: records of a partition in order, partitions in
   * parallel (up to `concurrency`), retries and dead-lettering as for `subscribe`.
   */
  async consume<T = unknown>(options: ConsumeOptions<T>): Promise<Subscription> {
    const topics = Array.isArray(options.topics) ? options.topics : [options.topics];
    if (topics.length === 0) throw new ConfigurationError('Kafka consume: topics is empty', { broker: 'kafka' });
    const { topics: _topics, groupId: requestedGroup, handler, autoOffsetReset, maxPollRecords, sessionTimeoutMs, enableAutoCommit, ...subscribeOptions } = options;
    const groupId = requestedGroup ?? this.kafka.options.groupId ?? 'contractbus';
    // One group member for all the topics (see KafkaTransport.bundleTopics): subscribe to all at once.
    this.kafka.bundleTopics(groupId, topics);
    const settled = await Promise.allSettled(
      topics.map((topic) => {
        this.kafka.setConsumeOverrides(topic, groupId, {
          ...(maxPollRecords === undefined ? {} : { maxPollRecords }),
          ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
          ...(enableAutoCommit === undefined ? {} : { enableAutoCommit }),
        });
        const wrapped = (message: T, metadata: MessageMetadata): Promise<void> | void => handler(message, metadata, recordPositionOf((metadata as { message?: WireMessage }).message));
        return this.subscribe<T>(topic, wrapped, { ...subscribeOptions, group: groupId, startFrom: autoOffsetReset ?? 'earliest' }).catch((error: unknown) => {
          this.kafka.cancelBundle(groupId, error instanceof Error ? error : new Error(String(error)));
          throw error;
        });
      }),
    );
    const subscriptions = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(subscriptions.map((s) => s.close()));
      throw failed.reason;
    }
    return combine(topics.join(','), groupId, subscriptions);
  }

  /** Manual commit: `offset` is the next offset to read, i.e. the handled record's offset + 1. */
  commitOffset(topic: string, partition: number, offset: string | number | bigint): Promise<void> {
    return this.kafka.commitOffset(topic, partition, offset);
  }

  /** Consumer lag per partition of `topic` for `groupId`. */
  lag(groupId: string, topic: string): Promise<PartitionLag[]> {
    return this.kafka.lag(groupId, topic);
  }

  /** Creates missing topics with `topicConfig` (done automatically on first produce/consume). */
  ensureTopics(topics: string[]): Promise<void> {
    return this.kafka.ensureTopics(topics);
  }
}

function combine(topic: string, group: string, parts: Subscription[]): Subscription {
  const close = async (options?: { timeoutMs?: number }): Promise<void> => {
    await Promise.all(parts.map((p) => p.close(options)));
  };
  return { topic, group, close, [Symbol.asyncDispose]: () => close() };
}

/** Used by `connect('kafka://…')`: accepts a host list that WHATWG `URL` cannot hold, as a string. */
export function fromUrl(url: URL | string, options: KafkaClientOptions = {}): MessageBroker {
  return new KafkaClient({ ...options, url });
}
