/**
 * One subscription's processing, on top of a driver's group consumer:
 * - records of a partition are handed out one at a time, in offset order (the next one after the
 *   previous delivery was acked or nacked); partitions run concurrently (up to `prefetch`);
 * - only the contiguous prefix of handled offsets is committed, after the handler settled, batched
 *   every `commitIntervalMs` and on close;
 * - a revoked partition stops at once: its pending commits are dropped and acks for it become
 *   no-ops (the new owner starts from the last commit: at-least-once, never a gap);
 * - Kafka cannot redeliver one record, so `nack({ requeue: true, delayMs })` redelivers in process,
 *   in order, after the delay; past `maxRedeliveries` the record goes to the dead-letter topic so a
 *   partition can never block forever on one poison record.
 */
import { ACK_SENT, type Delivery, type WireMessage } from '../../core/transport.ts';
import type { BatchContext, CommitRequest, DriverGroupConsumer, IncomingRecord, TopicPartition } from './driver.ts';
import { OffsetTracker } from './offset-tracker.ts';
import { fromRecord, offsetOf } from './wire.ts';

export interface ConsumerRunnerOptions {
  groupId: string;
  /** false: nothing is committed automatically, only through `commit()` (KafkaClient.commitOffset). */
  autoCommit: boolean;
  commitIntervalMs: number;
  heartbeatIntervalMs: number;
  maxRedeliveries: number;
  maxRedeliveryDelayMs: number;
  onDelivery(delivery: Delivery): Promise<void>;
  /** Publishes a record that exceeded `maxRedeliveries` to its dead-letter topic. */
  deadLetter(message: WireMessage, attempts: number): Promise<void>;
  onError(error: Error, context: string): void;
}

interface PartitionState {
  key: string;
  topic: string;
  partition: number;
  tracker: OffsetTracker;
  revoked: boolean;
  /** Wakes whatever the partition is waiting on (a delay, a resume) when revoked. */
  onRevoke: (() => void) | undefined;
  /** The delivery in the handler's hands: settled as stale when the partition is revoked. */
  inHand: RecordDelivery | undefined;
  lastHandled: bigint | undefined;
  /** In #pendingCommits: the committable offset is read from the tracker when the commit is sent. */
  commitQueued: boolean;
}

type Outcome = { kind: 'done' } | { kind: 'requeue'; delayMs: number } | { kind: 'stale' };
const DONE: Outcome = { kind: 'done' };
const STALE: Outcome = { kind: 'stale' };
const SETTLED: Promise<void> = Promise.resolve();

/**
 * One delivery of one record. A class rather than an object of closures: this is allocated for
 * every record, and its ack/nack live on the prototype. ack/nack only record the outcome and pass
 * it to `onSettled` (the batch in progress, or a promise's resolve on the rare redelivery path),
 * which moves the partition on (and commits) from there: no promise of its own per record.
 */
class RecordDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly #state: PartitionState;
  readonly #onSettled: (outcome: Outcome) => void;
  #settled = false;

  constructor(message: WireMessage, deliveryCount: number, state: PartitionState, onSettled: (outcome: Outcome) => void) {
    this.message = message;
    this.deliveryCount = deliveryCount;
    this.#state = state;
    this.#onSettled = onSettled;
  }

  ack(): Promise<void> {
    this.settle(DONE);
    return ACK_SENT;
  }

  nack({ requeue, delayMs }: { requeue: boolean; delayMs?: number }): Promise<void> {
    this.settle(requeue ? { kind: 'requeue', delayMs: delayMs ?? 0 } : DONE);
    return ACK_SENT;
  }

  settle(outcome: Outcome): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#state.inHand === this) this.#state.inHand = undefined;
    this.#onSettled(outcome);
  }
}

/**
 * One onBatch call in progress. Records are handed out by #step. A record settled while #step is
 * still handing it out (a synchronous handler: the common case) lets #step loop on to the next
 * one: no microtask and no stack growth. A record settled later (an async handler, a revocation
 * inside a driver event) queues #resume as a microtask, never runs it synchronously: ack() runs
 * inside the shared layer. One promise per batch.
 */
interface BatchRun {
  readonly records: IncomingRecord[];
  readonly state: PartitionState;
  readonly context: BatchContext;
  /** The record in hand (or the next to look at). */
  index: number;
  offset: bigint;
  message: WireMessage | undefined;
  outcome: Outcome;
  /** #step is inside #deliver: a settlement now is picked up by #step itself. */
  delivering: boolean;
  /** The record in hand was settled while delivering. */
  settledInline: boolean;
  /** The last handled record: passed to context.resolve once, when the batch ends. */
  handled: IncomingRecord | undefined;
  /** The record in hand was settled (RecordDelivery's onSettled). */
  settled: (outcome: Outcome) => void;
  resume: () => void;
  end: (error?: unknown) => void;
}

export class ConsumerRunner {
  readonly #options: ConsumerRunnerOptions;
  readonly #partitions = new Map<string, PartitionState>();
  /** Partitions with handled records not committed yet; offsets are read when the commit is sent. */
  readonly #pendingCommits = new Map<string, PartitionState>();
  #consumer: DriverGroupConsumer | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  #paused = false;
  #resumeWaiters: Array<() => void> = [];
  readonly #busy = new Set<BatchContext>();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #closed = false;
  lastCommitError: string | undefined;
  delivered = 0;

  constructor(options: ConsumerRunnerOptions) {
    this.#options = options;
  }

  attach(consumer: DriverGroupConsumer): void {
    this.#consumer = consumer;
  }

  get groupId(): string {
    return this.#options.groupId;
  }

  assignment(): TopicPartition[] {
    return [...this.#partitions.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  owns(topic: string, partition: number): boolean {
    return this.#partitions.has(`${topic}:${partition}`);
  }

  readonly onAssigned = (partitions: TopicPartition[]): void => {
    for (const { topic, partition } of partitions) {
      const key = `${topic}:${partition}`;
      if (!this.#partitions.has(key)) {
        this.#partitions.set(key, { key, topic, partition, tracker: new OffsetTracker(), revoked: false, onRevoke: undefined, inHand: undefined, lastHandled: undefined, commitQueued: false });
      }
    }
  };

  readonly onRevoked = (partitions: TopicPartition[]): void => {
    for (const { topic, partition } of partitions) {
      const key = `${topic}:${partition}`;
      const state = this.#partitions.get(key);
      if (!state) continue;
      this.#partitions.delete(key);
      this.#pendingCommits.delete(key);
      state.commitQueued = false;
      state.revoked = true;
      state.inHand?.settle(STALE);
      const wake = state.onRevoke;
      state.onRevoke = undefined;
      wake?.();
    }
  };

  readonly onBatch = (records: IncomingRecord[], context: BatchContext): Promise<void> => {
    const first = records[0];
    if (!first) return SETTLED;
    let state = this.#partitions.get(`${first.topic}:${first.partition}`);
    // kafkajs may hand out a batch before its GROUP_JOIN event reached us.
    if (!state) {
      this.onAssigned([{ topic: first.topic, partition: first.partition }]);
      state = this.#partitions.get(`${first.topic}:${first.partition}`);
    }
    if (!state) return SETTLED;
    const partition = state;
    this.#busy.add(context);
    this.#ensureHeartbeat();
    return new Promise<void>((resolve, reject) => {
      const run: BatchRun = {
        records,
        state: partition,
        context,
        index: 0,
        offset: 0n,
        message: undefined,
        outcome: DONE,
        delivering: false,
        settledInline: false,
        handled: undefined,
        settled: (outcome) => {
          run.outcome = outcome;
          if (run.delivering) run.settledInline = true;
          else queueMicrotask(run.resume);
        },
        resume: () => this.#resume(run),
        end: (error) => {
          // The last handled record, passed to context.resolve once when the batch ends rather
          // than per record (a driver call that is not free: kafkajs parses and formats a Long
          // each time; a DecodedRecord makes its decimal offset only when asked). The driver reads
          // it only after onBatch returned; if the batch went stale, resolve is a no-op and the
          // driver starts over from the committed offset or the seek anyway.
          // Commits stay on their timer (commitIntervalMs): awaiting one per batch would add a
          // broker round trip to every batch, and a revoked partition is never committed anyway.
          let failure = error;
          if (run.handled !== undefined) {
            try {
              context.resolve(run.handled.offset);
            } catch (resolveError) {
              failure ??= resolveError;
            }
          }
          this.#busy.delete(context);
          if (failure === undefined) resolve();
          else reject(failure);
        },
      };
      this.#step(run);
    });
  };

  /** Hands out the records of a batch from run.index on, until one is in the handler's hands or the batch ends. */
  #step(run: BatchRun): void {
    try {
      const { records, state, context } = run;
      while (run.index < records.length) {
        if (this.#isStale(state, context)) return run.end();
        if (this.#paused) return void this.#stepAfterPause(run);
        const record = records[run.index] as IncomingRecord;
        const offset = offsetOf(record);
        // A driver may repeat records after a rejoin; they were handed out already.
        if (state.lastHandled !== undefined && offset <= state.lastHandled) {
          run.index++;
          continue;
        }
        state.tracker.start(offset);
        run.offset = offset;
        run.message = fromRecord(record);
        // The common case costs one delivery object: the handler acked the first time, before
        // onDelivery returned.
        run.settledInline = false;
        run.delivering = true;
        try {
          this.#deliver(new RecordDelivery(run.message, 1, state, run.settled), state);
        } finally {
          run.delivering = false;
        }
        if (!run.settledInline) return;
        if (run.outcome !== DONE) return void this.#handleAgainThenStep(run);
        this.#handled(run);
      }
      run.end();
    } catch (error) {
      run.end(error);
    }
  }

  /** The record in hand was settled (a microtask: nothing may throw out of here). */
  #resume(run: BatchRun): void {
    if (run.outcome !== DONE) return void this.#handleAgainThenStep(run);
    try {
      this.#handled(run);
    } catch (error) {
      return run.end(error);
    }
    this.#step(run);
  }

  #handled(run: BatchRun): void {
    const state = run.state;
    state.tracker.finish(run.offset);
    state.lastHandled = run.offset;
    run.handled = run.records[run.index];
    run.index++;
    this.delivered++;
    if (this.#options.autoCommit && !state.commitQueued) this.#queueCommit(state);
  }

  async #stepAfterPause(run: BatchRun): Promise<void> {
    try {
      await this.#waitForResume(run.state);
    } catch (error) {
      return run.end(error);
    }
    this.#step(run);
  }

  async #handleAgainThenStep(run: BatchRun): Promise<void> {
    try {
      if (!(await this.#handleAgain(run.message as WireMessage, run.outcome, run.state, run.context))) {
        // Stale but not revoked (e.g. a seek): the driver fetches this record again.
        if (!run.state.revoked) this.#reset(run.state);
        return run.end();
      }
      this.#handled(run);
    } catch (error) {
      return run.end(error);
    }
    this.#step(run);
  }

  /** After a first delivery that was not acked: redeliveries (in order), the DLQ, or stale. */
  async #handleAgain(message: WireMessage, firstOutcome: Outcome, state: PartitionState, context: BatchContext): Promise<boolean> {
    let outcome = firstOutcome;
    let deliveryCount = 1;
    for (;;) {
      if (outcome.kind === 'done') return true;
      if (outcome.kind === 'stale') return false;
      if (this.#paused) {
        // Requeued because the subscription is pausing or draining (circuit open, close): not a
        // failure of the record. Hold it until resumed (same delivery count); on close it stays uncommitted.
        await this.#waitForResume(state);
        if (this.#isStale(state, context)) return false;
        outcome = await this.#deliverOnce(message, deliveryCount, state);
        continue;
      }
      if (deliveryCount > this.#options.maxRedeliveries) {
        return this.#deadLetterUntilDone(message, deliveryCount, state, context);
      }
      const delay = Math.min(Math.max(0, outcome.delayMs), this.#options.maxRedeliveryDelayMs);
      if (delay > 0 && !(await this.#sleep(delay, state))) return false;
      if (this.#isStale(state, context)) return false;
      deliveryCount++;
      outcome = await this.#deliverOnce(message, deliveryCount, state);
    }
  }

  /** Redeliveries (rare): one promise per delivery. Callers check #isStale right before. */
  #deliverOnce(message: WireMessage, deliveryCount: number, state: PartitionState): Promise<Outcome> {
    return new Promise((resolve) => this.#deliver(new RecordDelivery(message, deliveryCount, state, resolve), state));
  }

  #deliver(delivery: RecordDelivery, state: PartitionState): void {
    state.inHand = delivery;
    this.#options.onDelivery(delivery).catch((error: unknown) => {
      // The shared layer settles every delivery itself; a throw means it could not: try again later.
      this.#options.onError(error instanceof Error ? error : new Error(String(error)), `handling a record of ${state.key}`);
      delivery.settle({ kind: 'requeue', delayMs: 1_000 });
    });
  }

  async #deadLetterUntilDone(message: WireMessage, attempts: number, state: PartitionState, context: BatchContext): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.deadLetter(message, attempts);
        return true;
      } catch (error) {
        this.#options.onError(error instanceof Error ? error : new Error(String(error)), `dead-lettering a record of ${state.key}`);
        if (!(await this.#sleep(Math.min(30_000, 200 * 2 ** attempt), state)) || this.#isStale(state, context)) return false;
      }
    }
  }

  #isStale(state: PartitionState, context: BatchContext): boolean {
    return this.#closed || state.revoked || context.isStale();
  }

  #reset(state: PartitionState): void {
    this.#pendingCommits.delete(state.key);
    state.commitQueued = false;
    const fresh: PartitionState = { ...state, tracker: new OffsetTracker(), inHand: undefined, lastHandled: undefined, commitQueued: false };
    this.#partitions.set(state.key, fresh);
  }

  /** Resolves true after `ms`, false as soon as the partition is revoked. */
  #sleep(ms: number, state: PartitionState): Promise<boolean> {
    return new Promise((resolve) => {
      if (state.revoked) return resolve(false);
      const onRevoke = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        if (state.onRevoke === onRevoke) state.onRevoke = undefined;
        resolve(true);
      }, ms);
      state.onRevoke = onRevoke;
    });
  }

  /** kafkajs only heartbeats between batches unless asked: keep the session alive while handlers run. */
  #ensureHeartbeat(): void {
    if (this.#heartbeatTimer) return;
    this.#heartbeatTimer = setInterval(() => {
      if (this.#busy.size === 0) {
        clearInterval(this.#heartbeatTimer);
        this.#heartbeatTimer = undefined;
        return;
      }
      // One heartbeat serves the whole member; any busy batch can send it.
      const [context] = this.#busy;
      void context?.heartbeat();
    }, this.#options.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
  }

  /** Once per partition per commit interval, not per record: the offset is read at flush time. */
  #queueCommit(state: PartitionState): void {
    state.commitQueued = true;
    this.#pendingCommits.set(state.key, state);
    this.#commitTimer ??= setTimeout(() => {
      this.#commitTimer = undefined;
      void this.flushCommits();
    }, this.#options.commitIntervalMs);
  }

  /** Commits every pending offset of partitions still owned; single flight, in order. */
  flushCommits(): Promise<void> {
    const run = async (): Promise<void> => {
      const consumer = this.#consumer;
      if (!consumer || this.#pendingCommits.size === 0) return;
      const batch: Array<{ state: PartitionState; offset: bigint }> = [];
      for (const state of this.#pendingCommits.values()) {
        state.commitQueued = false;
        // Only the contiguous prefix of handled records; nothing for a revoked partition.
        const offset = state.revoked ? undefined : state.tracker.committable();
        if (offset !== undefined) batch.push({ state, offset });
      }
      this.#pendingCommits.clear();
      if (batch.length === 0) return;
      try {
        await consumer.commit(batch.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset: offset.toString() })));
        for (const { state, offset } of batch) state.tracker.committed(offset);
        this.lastCommitError = undefined;
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        this.lastCommitError = err.message;
        this.#options.onError(err, `committing offsets of group "${this.#options.groupId}"`);
        // Still owned: try again with the next flush (which reads the then newest committable offset).
        for (const { state } of batch) {
          if (state.revoked || state.commitQueued) continue;
          state.commitQueued = true;
          this.#pendingCommits.set(state.key, state);
        }
      }
    };
    const next = this.#commitChain.then(run, run);
    this.#commitChain = next.catch(() => undefined);
    return next;
  }

  /** Manual commit (KafkaClient.commitOffset): `offset` is the next offset to read. */
  async commit(request: CommitRequest): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer) throw new Error('not started');
    await consumer.commit([request]);
  }

  pause(): void {
    this.#paused = true;
    this.#consumer?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#consumer?.resume();
    const waiters = this.#resumeWaiters;
    this.#resumeWaiters = [];
    for (const wake of waiters) wake();
  }

  #waitForResume(state: PartitionState): Promise<void> {
    return new Promise((resolve) => {
      if (state.revoked || !this.#paused) return resolve();
      const wake = (): void => {
        if (state.onRevoke === wake) state.onRevoke = undefined;
        resolve();
      };
      state.onRevoke = wake;
      this.#resumeWaiters.push(wake);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Deliveries already settled are committed before the consumer leaves the group.
    if (this.#options.autoCommit) await this.flushCommits().catch(() => undefined);
    this.#closed = true;
    clearTimeout(this.#commitTimer);
    clearInterval(this.#heartbeatTimer);
    this.onRevoked(this.assignment());
    this.resume();
    await this.#consumer?.close();
  }
}
