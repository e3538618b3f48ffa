/**
 * The driver seam: the few Kafka operations the binding needs, so kafkajs and @platformatic/kafka
 * (or a user's own driver) are interchangeable. Everything above it (wire format, offset tracking,
 * redelivery, commits after handlers, health) is written once in transport.ts.
 *
 * Contract a driver keeps:
 * - `produce` resolves only after the broker acknowledged every record with the asked `acks`.
 * - `onBatch` is called serially per partition (the next call for a partition starts after the
 *   previous one resolved) and concurrently across partitions, with records in offset order.
 * - After `onBatch` returns early (stale), the driver fetches that partition again from the last
 *   offset passed to `resolve` + 1 (or the committed offset after a rebalance): nothing is skipped.
 * - `onRevoked` is called before partitions may be consumed elsewhere (eager: at the start of a
 *   rebalance; cooperative: before the revocation completes); commits for them stop right there.
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface OutgoingRecord {
  topic: string;
  key?: string | undefined;
  value: Uint8Array;
  headers: Record<string, string>;
  partition?: number | undefined;
  /** Epoch ms. */
  timestamp: number;
}

export interface ProducedRecord {
  topic: string;
  partition: number;
  offset: string;
}

export interface IncomingRecord {
  topic: string;
  partition: number;
  /** Decimal string: Kafka offsets are int64. */
  offset: string;
  key: string | undefined;
  value: Uint8Array;
  headers: Record<string, string>;
  /** Epoch ms (record timestamp). */
  timestamp: number;
}

export interface BatchContext {
  /** True once the partition was revoked, the group is rebalancing or the consumer is stopping. */
  isStale(): boolean;
  /** Keeps the group session alive during a long handler (a no-op where the driver heartbeats on its own). */
  heartbeat(): Promise<void>;
  /** Records up to and including `offset` are done: the driver's fetch position may move past them. */
  resolve(offset: string): void;
}

export interface GroupConsumerSpec {
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  /**
   * For a brand-new group only (no commits, no other member): where each partition starts, so
   * 'latest' means "from the moment of subscribing" — a new group otherwise resolves 'latest' at
   * its first fetch, after messages published right after subscribe() resolved.
   */
  initialOffsets?: CommitRequest[] | undefined;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** Upper bound of records fetched per partition per poll. */
  maxPollRecords: number;
  /** Partitions processed at once. */
  partitionsConcurrently: number;
  onBatch(records: IncomingRecord[], context: BatchContext): Promise<void>;
  onAssigned(partitions: TopicPartition[]): void;
  onRevoked(partitions: TopicPartition[]): void;
  /** The consumer failed and will not recover by itself (it is being restarted or has stopped). */
  onError(error: Error, willRestart: boolean): void;
}

export interface CommitRequest extends TopicPartition {
  /** The next offset to consume (last handled + 1), as Kafka expects. */
  offset: string;
}

export interface PartitionLag extends TopicPartition {
  committed: string | undefined;
  high: string;
  lag: number;
}

export interface DriverGroupConsumer {
  readonly groupId: string;
  /** Resolves once the first assignment arrived (the group is joined). */
  readonly joined: Promise<void>;
  assignment(): TopicPartition[];
  memberId(): string | undefined;
  commit(offsets: CommitRequest[]): Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionOffsets {
  partition: number;
  low: string;
  high: string;
}

export interface KafkaDriver {
  /** 'kafkajs', 'platformatic', or a custom name. */
  readonly name: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  isConnected(): boolean;
  /** acks: -1 = all in-sync replicas (the default everywhere in this binding). */
  produce(records: OutgoingRecord[], options: { acks: -1 | 0 | 1; timeoutMs: number }): Promise<ProducedRecord[]>;
  /** Creates the topics that do not exist yet; existing ones are left alone. */
  createTopics(topics: TopicSpec[], options: { timeoutMs: number }): Promise<void>;
  listTopics(options: { timeoutMs: number }): Promise<string[]>;
  topicOffsets(topic: string, options: { timeoutMs: number }): Promise<PartitionOffsets[]>;
  /** Committed offsets of a group; partitions without a commit are left out. */
  committedOffsets(groupId: string, topic: string, options: { timeoutMs: number }): Promise<Map<number, string>>;
  /** Deletes an empty consumer group and its committed offsets (private groups on close). */
  deleteGroup(groupId: string, options: { timeoutMs: number }): Promise<void>;
  startGroupConsumer(spec: GroupConsumerSpec): Promise<DriverGroupConsumer>;
}
