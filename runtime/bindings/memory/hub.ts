/**
 * The in-process "server" of the memory binding: topics with a bounded retained log, consumer
 * groups with their own queues (competing consumers inside a group, fan-out across groups),
 * ack/nack with (delayed) redelivery, per-key order, priority and TTL. Several `MemoryBroker`
 * clients attached to one hub behave like several services connected to one broker.
 *
 * Bounds (documented choice): the retained log of a topic keeps the newest `maxMessagesPerTopic`
 * messages for groups created later with startFrom 'earliest' (older ones are dropped and counted);
 * a group's own queue never drops: past `maxQueuedPerGroup` a publish to its topic fails fast with
 * `BufferFullError` (like RabbitMQ's reject-publish overflow), so nothing accepted is lost.
 */
import { BufferFullError, ConnectionError } from '../../core/errors.ts';
import { ACK_SENT, type Delivery, type WireMessage } from '../../core/transport.ts';
import { topicMatcher } from '../../core/topic.ts';

export interface MemoryHubOptions {
  /** Messages a topic retains for groups created later (startFrom 'earliest'). Default 100 000. */
  maxMessagesPerTopic?: number;
  /** Messages one group may hold (queued, delayed or unacked) before publishes to it fail. Default 100 000. */
  maxQueuedPerGroup?: number;
}

export interface MemoryHubStats {
  topics: number;
  retainedMessages: number;
  /** Retained-log messages dropped by `maxMessagesPerTopic` (groups that existed already got them). */
  droppedByRetention: number;
  /** Messages the hub dropped because their TTL passed before delivery. */
  expired: number;
  groups: Array<{ topic: string; group: string; pending: number; consumers: number }>;
}

/** Array-backed FIFO with O(1) amortised shift and unshift (Array#shift is O(n)). */
class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}

interface Retained {
  message: WireMessage;
  seq: number;
}

class TopicLog {
  readonly log = new Fifo<Retained>();
}

interface Entry {
  readonly message: WireMessage;
  readonly seq: number;
  deliveryCount: number;
  /** The consumer holding it unacked; undefined while queued or waiting for a delayed redelivery. */
  consumer: Consumer | undefined;
}

const PRIORITIES = 10;

export type DeliveryCallback = (delivery: Delivery) => Promise<void>;

export class Consumer {
  readonly group: Group;
  readonly prefetch: number;
  readonly onDelivery: DeliveryCallback;
  readonly #onError: (error: unknown) => void;
  unacked = 0;
  paused = false;
  closed = false;
  readonly held = new Set<Entry>();

  constructor(group: Group, prefetch: number, onDelivery: DeliveryCallback, onError: (error: unknown) => void) {
    this.group = group;
    this.prefetch = prefetch;
    this.onDelivery = onDelivery;
    this.#onError = onError;
  }

  get hasCapacity(): boolean {
    return !this.paused && !this.closed && this.unacked < this.prefetch;
  }

  deliver(entry: Entry): void {
    entry.deliveryCount++;
    entry.consumer = this;
    this.unacked++;
    this.held.add(entry);
    let result: Promise<void>;
    try {
      result = this.onDelivery(new MemoryDelivery(entry, this));
    } catch (error) {
      this.#onError(error);
      return;
    }
    result.catch(this.#onError);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.group.schedule();
  }

  /** Unacked deliveries go back to the group (redelivery on crash / close). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.group.detach(this);
    for (const entry of this.held) {
      entry.consumer = undefined;
      this.group.requeue(entry, 0);
    }
    this.held.clear();
    this.unacked = 0;
  }

  /** true if this consumer still held the entry (a late ack after close is ignored). */
  release(entry: Entry): boolean {
    if (entry.consumer !== this) return false;
    entry.consumer = undefined;
    this.unacked--;
    this.held.delete(entry);
    return true;
  }
}

class MemoryDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly #entry: Entry;
  readonly #consumer: Consumer;
  #settled = false;

  constructor(entry: Entry, consumer: Consumer) {
    this.#entry = entry;
    this.#consumer = consumer;
    this.message = entry.message;
    this.deliveryCount = entry.deliveryCount;
  }

  ack(): Promise<void> {
    if (this.#settled) return ACK_SENT;
    this.#settled = true;
    if (this.#consumer.release(this.#entry)) this.#consumer.group.finish(this.#entry);
    this.#consumer.group.schedule();
    return ACK_SENT;
  }

  nack(options: { requeue: boolean; delayMs?: number }): Promise<void> {
    if (this.#settled) return ACK_SENT;
    this.#settled = true;
    if (this.#consumer.release(this.#entry)) {
      if (options.requeue) this.#consumer.group.requeue(this.#entry, options.delayMs ?? 0);
      else this.#consumer.group.finish(this.#entry);
    }
    this.#consumer.group.schedule();
    return ACK_SENT;
  }
}

export class Group {
  readonly topic: string;
  readonly name: string;
  readonly ephemeral: boolean;
  readonly matches: (topic: string) => boolean;
  readonly #hub: MemoryHub;
  /** Deliverable entries by priority; an entry with a key is here only while it holds its key. */
  readonly #ready: Array<Fifo<Entry>> = Array.from({ length: PRIORITIES }, () => new Fifo<Entry>());
  /** Keys with an entry in flight, and the entries of that key waiting behind it, in order. */
  readonly #keys = new Map<string, Fifo<Entry>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly consumers: Consumer[] = [];
  #readyCount = 0;
  #next = 0;
  #scheduled = false;
  pending = 0;

  constructor(hub: MemoryHub, topic: string, name: string, ephemeral: boolean) {
    this.#hub = hub;
    this.topic = topic;
    this.name = name;
    this.ephemeral = ephemeral;
    this.matches = topicMatcher(topic);
  }

  enqueue(entry: Entry): void {
    this.pending++;
    const key = entry.message.key;
    if (key !== undefined) {
      const waiting = this.#keys.get(key);
      if (waiting) {
        waiting.push(entry);
        return;
      }
      this.#keys.set(key, new Fifo<Entry>());
    }
    this.#pushReady(entry, false);
  }

  /** Acked, rejected or expired: gone for good; the next message of its key becomes deliverable. */
  finish(entry: Entry): void {
    this.pending--;
    if (this.pending === 0) this.#hub.groupDrained();
    const key = entry.message.key;
    if (key === undefined) return;
    const waiting = this.#keys.get(key);
    const next = waiting?.shift();
    if (next) this.#pushReady(next, false);
    else this.#keys.delete(key);
  }

  /** Back to the front of the queue (it still holds its key, so per-key order survives redelivery). */
  requeue(entry: Entry, delayMs: number): void {
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#pushReady(entry, true);
        this.schedule();
      }, delayMs);
      this.#timers.add(timer);
      return;
    }
    this.#pushReady(entry, true);
  }

  attach(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.schedule();
  }

  detach(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
    if (this.ephemeral && this.consumers.length === 0) this.#hub.removeGroup(this);
    else this.schedule();
    // A group nobody consumes no longer counts for idle().
    if (this.consumers.length === 0) this.#hub.groupDrained();
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Like a real broker: never deliver re-entrantly inside publish or ack.
    setImmediate(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  dispose(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #pushReady(entry: Entry, front: boolean): void {
    const bucket = this.#ready[priorityOf(entry.message)] as Fifo<Entry>;
    if (front) bucket.unshift(entry);
    else bucket.push(entry);
    this.#readyCount++;
  }

  #takeReady(): Entry | undefined {
    for (let p = PRIORITIES - 1; p >= 0; p--) {
      const bucket = this.#ready[p] as Fifo<Entry>;
      if (bucket.length > 0) {
        this.#readyCount--;
        return bucket.shift();
      }
    }
    return undefined;
  }

  #dispatch(): void {
    if (!this.#hub.available) return;
    while (this.#readyCount > 0) {
      const consumer = this.#pickConsumer();
      if (!consumer) return;
      const entry = this.#takeReady();
      if (!entry) return;
      const expiresAt = entry.message.expiresAt;
      if (expiresAt !== undefined && expiresAt <= Date.now()) {
        this.#hub.countExpired();
        this.finish(entry);
        continue;
      }
      consumer.deliver(entry);
    }
  }

  /** Round robin over consumers with free prefetch slots. */
  #pickConsumer(): Consumer | undefined {
    const count = this.consumers.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#next + i) % count;
      const consumer = this.consumers[index] as Consumer;
      if (consumer.hasCapacity) {
        this.#next = index + 1;
        return consumer;
      }
    }
    return undefined;
  }
}

function priorityOf(message: WireMessage): number {
  const priority = message.priority;
  if (priority === undefined) return 0;
  return priority < 0 ? 0 : priority >= PRIORITIES ? PRIORITIES - 1 : Math.floor(priority);
}

let privateGroups = 0;

export class MemoryHub {
  static readonly #named = new Map<string, MemoryHub>();

  /** The hub behind `memory://name` (`memory://` is 'default'); created on first use. */
  static named(name: string, options: MemoryHubOptions = {}): MemoryHub {
    let hub = MemoryHub.#named.get(name);
    if (!hub) {
      hub = new MemoryHub(options);
      MemoryHub.#named.set(name, hub);
    }
    return hub;
  }

  readonly maxMessagesPerTopic: number;
  readonly maxQueuedPerGroup: number;
  readonly #topics = new Map<string, TopicLog>();
  readonly #groups = new Map<string, Group>();
  /** Groups each concrete topic routes to; rebuilt lazily when groups change. */
  #routes = new Map<string, Group[]>();
  #seq = 0;
  #droppedByRetention = 0;
  #expired = 0;
  #available = true;
  readonly #idleWaiters = new Set<{ resolve: () => void }>();

  constructor(options: MemoryHubOptions = {}) {
    this.maxMessagesPerTopic = options.maxMessagesPerTopic ?? 100_000;
    this.maxQueuedPerGroup = options.maxQueuedPerGroup ?? 100_000;
    if (!Number.isInteger(this.maxMessagesPerTopic) || this.maxMessagesPerTopic < 0) throw new RangeError(`maxMessagesPerTopic must be an integer >= 0`);
    if (!Number.isInteger(this.maxQueuedPerGroup) || this.maxQueuedPerGroup < 1) throw new RangeError(`maxQueuedPerGroup must be an integer >= 1`);
  }

  /**
   * Simulates a broker outage (for tests of services): while unavailable, publishes fail with a
   * `ConnectionError` and nothing is delivered; data is kept and delivery resumes on `restore()`.
   */
  simulateOutage(): void {
    this.#available = false;
  }

  restore(): void {
    if (this.#available) return;
    this.#available = true;
    for (const group of this.#groups.values()) group.schedule();
  }

  get available(): boolean {
    return this.#available;
  }

  publish(message: WireMessage): { offset: string } {
    if (!this.#available) {
      throw new ConnectionError(`The memory broker is unavailable (simulated outage); publish to "${message.topic}" refused`, {
        broker: 'memory',
        topic: message.topic,
        hint: 'Call hub.restore() to end the outage',
      });
    }
    const groups = this.#route(message.topic);
    for (const group of groups) {
      if (group.pending >= this.maxQueuedPerGroup) {
        throw new BufferFullError(`Consumer group "${group.name}" of topic "${group.topic}" holds ${group.pending} messages (maxQueuedPerGroup)`, {
          broker: 'memory',
          topic: message.topic,
          hint: 'Its consumers are too slow or gone: add consumers, delete the group, or raise maxQueuedPerGroup',
        });
      }
    }
    Object.freeze(message.headers);
    Object.freeze(message);
    const seq = ++this.#seq;
    if (this.maxMessagesPerTopic > 0) {
      let topic = this.#topics.get(message.topic);
      if (!topic) {
        topic = new TopicLog();
        this.#topics.set(message.topic, topic);
      }
      topic.log.push({ message, seq });
      if (topic.log.length > this.maxMessagesPerTopic) {
        topic.log.shift();
        this.#droppedByRetention++;
      }
    }
    for (const group of groups) {
      group.enqueue({ message, seq, deliveryCount: 0, consumer: undefined });
      group.schedule();
    }
    return { offset: String(seq) };
  }

  /** Joins (or creates) a group. `group` undefined: a private group, removed when its consumer leaves. */
  consume(topic: string, group: string | undefined, startFrom: 'earliest' | 'latest', prefetch: number, onDelivery: DeliveryCallback, onError: (error: unknown) => void): Consumer {
    const ephemeral = group === undefined;
    const name = group ?? `private-${++privateGroups}`;
    const id = `${topic}\u0000${name}`;
    let state = this.#groups.get(id);
    if (!state) {
      state = new Group(this, topic, name, ephemeral);
      this.#groups.set(id, state);
      this.#routes = new Map();
      if (startFrom === 'earliest') this.#seed(state);
    }
    const consumer = new Consumer(state, prefetch, onDelivery, onError);
    state.attach(consumer);
    return consumer;
  }

  /** Forgets a named group and everything queued for it. */
  deleteGroup(topic: string, group: string): boolean {
    const state = this.#groups.get(`${topic}\u0000${group}`);
    if (!state) return false;
    for (const consumer of [...state.consumers]) consumer.close();
    this.removeGroup(state);
    return true;
  }

  removeGroup(group: Group): void {
    if (this.#groups.get(`${group.topic}\u0000${group.name}`) !== group) return;
    this.#groups.delete(`${group.topic}\u0000${group.name}`);
    group.dispose();
    this.#routes = new Map();
  }

  countExpired(): void {
    this.#expired++;
  }

  /**
   * Resolves once every group with a consumer attached has nothing queued, delayed or unacked:
   * "all published messages are handled" for tests, without sleeping. Groups without consumers
   * (nobody can drain them) are ignored. Rejects after `timeoutMs` (default 5000) naming the groups.
   */
  idle(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(waiter);
        const busy = [...this.#groups.values()].filter((g) => g.consumers.length > 0 && g.pending > 0).map((g) => `${g.topic}/${g.name}: ${g.pending}`);
        reject(new Error(`memory broker not idle after ${timeoutMs} ms (pending ${busy.join(', ')})`));
      }, timeoutMs);
      this.#idleWaiters.add(waiter);
    });
  }

  groupDrained(): void {
    if (this.#idleWaiters.size === 0 || !this.#isIdle()) return;
    for (const waiter of this.#idleWaiters) waiter.resolve();
    this.#idleWaiters.clear();
  }

  #isIdle(): boolean {
    for (const group of this.#groups.values()) if (group.consumers.length > 0 && group.pending > 0) return false;
    return true;
  }

  stats(): MemoryHubStats {
    let retainedMessages = 0;
    for (const topic of this.#topics.values()) retainedMessages += topic.log.length;
    return {
      topics: this.#topics.size,
      retainedMessages,
      droppedByRetention: this.#droppedByRetention,
      expired: this.#expired,
      groups: [...this.#groups.values()].map((g) => ({ topic: g.topic, group: g.name, pending: g.pending, consumers: g.consumers.length })),
    };
  }

  #route(topic: string): Group[] {
    let groups = this.#routes.get(topic);
    if (!groups) {
      groups = [];
      for (const group of this.#groups.values()) if (group.matches(topic)) groups.push(group);
      this.#routes.set(topic, groups);
    }
    return groups;
  }

  /** A new group starting at 'earliest' gets the retained messages of every topic it matches, in publish order. */
  #seed(group: Group): void {
    const retained: Retained[] = [];
    for (const [name, topic] of this.#topics) if (group.matches(name)) for (const item of topic.log) retained.push(item);
    retained.sort((a, b) => a.seq - b.seq);
    for (const { message, seq } of retained) group.enqueue({ message, seq, deliveryCount: 0, consumer: undefined });
  }
}
