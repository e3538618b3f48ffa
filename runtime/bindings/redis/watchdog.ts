/**
 * Bounds every round trip on the command connection without a timer per command. ioredis's
 * `commandTimeout` arms and clears one setTimeout per command, which measured here as ~1.5–2 µs of
 * CPU per publish (more than half of a raw PUBLISH). All commands share one timeout, so their
 * deadlines arrive in issue order: a FIFO checked by one coarse interval is enough. A command past
 * its deadline is rejected within `timeoutMs + checkEveryMs`.
 */
import { TimeoutError } from '../../core/errors.ts';

interface Entry {
  deadline: number;
  settled: boolean;
  reject: (error: Error) => void;
}

export class RoundTripWatchdog {
  readonly timeoutMs: number;
  readonly #checkEveryMs: number;
  #queue: Entry[] = [];
  #head = 0;
  #unsettled = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#checkEveryMs = Math.max(5, Math.min(250, Math.floor(timeoutMs / 10)));
  }

  /** Round trips still waiting for a reply. */
  get pending(): number {
    return this.#unsettled;
  }

  track<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { deadline: Date.now() + this.timeoutMs, settled: false, reject };
      this.#queue.push(entry);
      this.#unsettled += 1;
      this.#timer ??= this.#start();
      work.then(
        (value) => {
          if (entry.settled) return;
          entry.settled = true;
          this.#unsettled -= 1;
          resolve(value);
        },
        (error: unknown) => {
          if (entry.settled) return;
          entry.settled = true;
          this.#unsettled -= 1;
          reject(error);
        },
      );
    });
  }

  /** Rejects nothing; stops checking (the connection is closing). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #start(): NodeJS.Timeout {
    const timer = setInterval(() => this.#check(), this.#checkEveryMs);
    // The watchdog must not keep an otherwise finished process alive.
    timer.unref();
    return timer;
  }

  #check(): void {
    const now = Date.now();
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Entry;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        this.#unsettled -= 1;
        entry.reject(new TimeoutError(`Redis command timed out after ${this.timeoutMs} ms`, { broker: 'redis' }));
      }
      this.#head += 1;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
