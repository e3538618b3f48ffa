/**
 * Publishes made while the broker is unreachable wait here, bounded by count and bytes, and fail
 * fast past the bound instead of growing the heap (STYLE.md: "unbounded in-memory buffers while
 * disconnected" is a thing to avoid). Each item has its own deadline, so with `onExpire` set a
 * buffered publish promise always settles, even if the broker never comes back.
 */
import { BufferFullError, ConfigurationError, TimeoutError } from '../core/errors.ts';
import { MAX_TIMER_DELAY } from './backoff.ts';

export interface BoundedPublishBufferOptions<T> {
  /** Default 10 000. */
  maxMessages?: number;
  /** Sum of the `bytes` given to `push`. Default 16 MiB. */
  maxBytes?: number;
  /**
   * Called (once) with an item whose deadline passed while buffered, already removed from the
   * buffer; reject its publish promise here. Without it items never expire.
   */
  onExpire?: (item: T, error: TimeoutError) => void;
  /** Deadline for items pushed without one, ms from push. Default 30 000. */
  timeoutMs?: number;
  /** Named in errors, e.g. 'kafka'. */
  broker?: string;
}

export interface BufferPushOptions {
  /** Epoch ms after which the item expires. Default: now + the buffer's `timeoutMs`. */
  deadline?: number;
  /** Named in errors. */
  topic?: string;
}

interface Node<T> {
  item: T;
  bytes: number;
  deadline: number;
  topic: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  prev: Node<T> | undefined;
  next: Node<T> | undefined;
}

export class BoundedPublishBuffer<T> {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly #onExpire: ((item: T, error: TimeoutError) => void) | undefined;
  readonly #broker: string | undefined;
  #head: Node<T> | undefined;
  #tail: Node<T> | undefined;
  #size = 0;
  #bytes = 0;

  constructor(options: BoundedPublishBufferOptions<T> = {}) {
    this.maxMessages = options.maxMessages ?? 10_000;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.#onExpire = options.onExpire;
    this.#broker = options.broker;
    if (!Number.isInteger(this.maxMessages) || this.maxMessages < 0) {
      throw new ConfigurationError(`publish buffer maxMessages must be an integer >= 0, got ${String(this.maxMessages)}`);
    }
    if (!Number.isFinite(this.maxBytes) || this.maxBytes < 0) {
      throw new ConfigurationError(`publish buffer maxBytes must be a number >= 0, got ${String(this.maxBytes)}`);
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`publish buffer timeoutMs must be a number of ms > 0, got ${String(this.timeoutMs)}`);
    }
  }

  get size(): number {
    return this.#size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** How full, in [0, 1]: the larger of the count and byte ratios (for metrics and health). */
  get fill(): number {
    const byCount = this.maxMessages === 0 ? 1 : this.#size / this.maxMessages;
    const byBytes = this.maxBytes === 0 ? 1 : this.#bytes / this.maxBytes;
    return Math.min(1, Math.max(byCount, byBytes));
  }

  /** Adds an item, or throws `BufferFullError` at once if it would exceed either bound. */
  push(item: T, bytes: number, options: BufferPushOptions = {}): void {
    if (!Number.isFinite(bytes) || bytes < 0) throw new ConfigurationError(`publish buffer item size must be a number of bytes >= 0, got ${String(bytes)}`);
    if (this.#size + 1 > this.maxMessages || this.#bytes + bytes > this.maxBytes) throw this.#fullError(bytes, options.topic);
    const node: Node<T> = {
      item,
      bytes,
      deadline: options.deadline ?? Date.now() + this.timeoutMs,
      topic: options.topic,
      timer: undefined,
      prev: this.#tail,
      next: undefined,
    };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#size++;
    this.#bytes += bytes;
    if (this.#onExpire) this.#arm(node);
  }

  /** Oldest live item, removed; expired items met on the way are expired, not returned. */
  shift(): T | undefined {
    for (let node = this.#head; node; node = this.#head) {
      this.#remove(node);
      if (this.#isExpired(node)) {
        this.#notifyExpired(node);
        continue;
      }
      return node.item;
    }
    return undefined;
  }

  /** Removes and yields items oldest first (e.g. to publish them after reconnecting). */
  *drain(): Generator<T, void, undefined> {
    for (let node = this.#head; node; node = this.#head) {
      this.#remove(node);
      if (this.#isExpired(node)) this.#notifyExpired(node);
      else yield node.item;
    }
  }

  /** Removes and returns everything (e.g. to reject all on close), without calling `onExpire`. */
  clear(): T[] {
    const items: T[] = [];
    for (let node = this.#head; node; node = this.#head) {
      this.#remove(node);
      items.push(node.item);
    }
    return items;
  }

  #isExpired(node: Node<T>): boolean {
    return this.#onExpire !== undefined && Date.now() >= node.deadline;
  }

  #arm(node: Node<T>): void {
    // Clamped: a longer delay would make Node fire the timer after 1 ms; #expire re-arms instead.
    node.timer = setTimeout(() => this.#expire(node), Math.min(MAX_TIMER_DELAY, Math.max(0, node.deadline - Date.now())));
    // A buffered publish must not keep a process alive that is otherwise done.
    node.timer.unref?.();
  }

  #expire(node: Node<T>): void {
    // The node may have been shifted already; a removed node has no timer.
    if (node.timer === undefined) return;
    if (Date.now() < node.deadline) {
      this.#arm(node);
      return;
    }
    this.#remove(node);
    this.#notifyExpired(node);
  }

  #notifyExpired(node: Node<T>): void {
    const where = node.topic ? ` to topic "${node.topic}"` : '';
    const broker = this.#broker ? ` ${this.#broker}` : '';
    this.#onExpire?.(
      node.item,
      new TimeoutError(`Publish${where} expired in the publish buffer while the broker${broker} was unreachable`, {
        broker: this.#broker,
        topic: node.topic,
        hint: 'Check the broker is running; raise the publish timeoutMs to wait longer for reconnection',
      }),
    );
  }

  #remove(node: Node<T>): void {
    if (node.timer !== undefined) {
      clearTimeout(node.timer);
      node.timer = undefined;
    }
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
    this.#size--;
    this.#bytes -= node.bytes;
  }

  #fullError(bytes: number, topic: string | undefined): BufferFullError {
    const broker = this.#broker ? ` ${this.#broker}` : '';
    const where = topic ? ` to topic "${topic}"` : '';
    const state =
      bytes > this.maxBytes
        ? `a ${bytes}-byte message is larger than the whole buffer (maxBytes ${this.maxBytes})`
        : `${this.#size}/${this.maxMessages} messages, ${this.#bytes}/${this.maxBytes} bytes waiting`;
    return new BufferFullError(`Publish${where} refused: the publish buffer is full (${state}) because the broker${broker} is unreachable`, {
      broker: this.#broker,
      topic,
      hint: 'Wait for the broker to come back (see healthCheck()), slow down publishers, or raise the buffer limits',
    });
  }
}
