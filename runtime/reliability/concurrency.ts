/**
 * Bounded handler concurrency with per-key ordering: the consume pipeline runs up to `limit`
 * handlers at once, but never two for the same ordering key (Kafka key, message group), so
 * `concurrency > 1` does not reorder a key's messages. A key's next task waits in its own queue,
 * outside the shared run queue, so it never holds a slot that other keys could use; when its
 * predecessor finishes it joins the back of the run queue (a hot key cannot starve the others).
 */
import { ConfigurationError } from '../core/errors.ts';

interface Task {
  readonly key: string | undefined;
  readonly fn: () => Promise<unknown> | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  next: Task | undefined;
}

/** Singly linked FIFO: O(1) push and shift (Array#shift is O(n) on large arrays). */
class TaskQueue {
  head: Task | undefined;
  tail: Task | undefined;
  length = 0;

  push(task: Task): void {
    task.next = undefined;
    if (this.tail) this.tail.next = task;
    else this.head = task;
    this.tail = task;
    this.length++;
  }

  shift(): Task | undefined {
    const task = this.head;
    if (!task) return undefined;
    this.head = task.next;
    if (!this.head) this.tail = undefined;
    task.next = undefined;
    this.length--;
    return task;
  }
}

/** What `run` returns for a function that finished synchronously (one shared settled promise). */
export const DONE: Promise<undefined> = Promise.resolve(undefined);

export class KeyedConcurrencyLimiter {
  readonly limit: number;
  #inFlight = 0;
  #queued = 0;
  /** Tasks allowed to start (no earlier task of their key is pending), in arrival/release order. */
  readonly #ready = new TaskQueue();
  /**
   * One entry per key with a task queued or running; holds that key's tasks waiting behind it
   * (null: one running, none waiting yet). Deleted when the key's last task finishes, so idle keys
   * cost nothing.
   */
  readonly #keys = new Map<string, TaskQueue | null>();
  #idleWaiters: Array<() => void> = [];

  constructor(limit: number) {
    if (!(Number.isInteger(limit) || limit === Infinity) || limit < 1) {
      throw new ConfigurationError(`concurrency must be an integer >= 1, got ${String(limit)}`);
    }
    this.limit = limit;
  }

  /** Functions running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Functions accepted but not started (waiting for a slot or for an earlier task of their key). */
  get queued(): number {
    return this.#queued;
  }

  /** Keys with a task queued or running (for metrics and leak tests). */
  get activeKeys(): number {
    return this.#keys.size;
  }

  /**
   * Runs `fn` when a slot is free and no earlier task with the same `key` is unfinished.
   * `undefined` key: no ordering constraint. Settles with `fn`'s result.
   */
  run<T>(key: string | undefined, fn: () => Promise<T>): Promise<T>;
  /** `fn` may finish synchronously by returning undefined: then the slot is free again at once and {@link DONE} is returned. */
  run<T>(key: string | undefined, fn: () => Promise<T> | undefined): Promise<T | undefined>;
  run<T>(key: string | undefined, fn: () => Promise<T> | undefined): Promise<T | undefined> {
    if (this.#inFlight < this.limit && this.#ready.length === 0 && (key === undefined || !this.#keys.has(key))) {
      // A free slot and nobody ahead: start now, without a task object or a wrapper promise (the
      // common case whenever the consumer is not saturated, e.g. one record at a time per partition).
      if (key !== undefined) this.#keys.set(key, null);
      this.#inFlight++;
      let promise: Promise<T>;
      try {
        const result = fn();
        if (result === undefined) {
          this.#done(key);
          return DONE;
        }
        promise = Promise.resolve(result);
      } catch (error) {
        promise = Promise.reject(error);
      }
      return promise.then(
        (value) => {
          this.#done(key);
          return value;
        },
        (error: unknown) => {
          this.#done(key);
          throw error;
        },
      );
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const task: Task = { key, fn, resolve: resolve as (value: unknown) => void, reject, next: undefined };
      this.#queued++;
      if (key !== undefined) {
        const waiting = this.#keys.get(key);
        if (waiting !== undefined) {
          if (waiting === null) {
            const queue = new TaskQueue();
            queue.push(task);
            this.#keys.set(key, queue);
          } else waiting.push(task);
          return;
        }
        this.#keys.set(key, null);
      }
      this.#ready.push(task);
      this.#pump();
    });
  }

  /** Resolves when nothing is in flight or queued (now, if already so). */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.limit) {
      const task = this.#ready.shift();
      if (!task) break;
      this.#queued--;
      this.#inFlight++;
      this.#start(task);
    }
    if (this.#inFlight === 0 && this.#queued === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #start(task: Task): void {
    let promise: Promise<unknown>;
    try {
      promise = Promise.resolve(task.fn());
    } catch (error) {
      // A synchronous throw must free the slot like a rejection does.
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => {
        this.#done(task.key);
        task.resolve(value);
      },
      (error: unknown) => {
        this.#done(task.key);
        task.reject(error);
      },
    );
  }

  /** A task of `key` finished: its slot is free and the key's next task (if any) may run. */
  #done(key: string | undefined): void {
    this.#inFlight--;
    if (key !== undefined) {
      const next = this.#keys.get(key)?.shift();
      if (next) this.#ready.push(next);
      else this.#keys.delete(key);
    }
    this.#pump();
  }
}
