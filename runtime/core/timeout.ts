/** Bounds a promise in time without leaving a timer behind; the error is built only on timeout. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!(ms > 0) || ms === Infinity) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

interface Deadline {
  readonly at: number;
  readonly reject: (error: Error) => void;
  readonly onTimeout: () => Error;
  done: boolean;
}

/**
 * `withTimeout` for many promises that share one timeout value (a client's publishes): one timer
 * for all of them instead of a setTimeout/clearTimeout pair per message. Deadlines arrive in
 * order, so they sit in a FIFO; settled ones leave from the head as soon as everything before them
 * has settled, and the timer is re-armed only for the oldest unsettled deadline. The timer keeps
 * the process alive only while something is pending, like the per-promise timer it replaces.
 */
export class DeadlineQueue {
  readonly ms: number;
  readonly #entries: Array<Deadline | undefined> = [];
  #head = 0;
  #pending = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.ms = ms;
  }

  /** `now`: performance.now() at the start, when the caller already has it. */
  track<T>(promise: Promise<T>, onTimeout: () => Error, now = performance.now()): Promise<T> {
    if (!(this.ms > 0) || this.ms === Infinity) return promise;
    return new Promise<T>((resolve, reject) => {
      const entry: Deadline = { at: now + this.ms, reject, onTimeout, done: false };
      this.#entries.push(entry);
      if (this.#pending++ === 0) {
        if (this.#timer === undefined) this.#timer = setTimeout(this.#fire, this.ms);
        else this.#timer.ref();
      }
      promise.then(
        (value) => {
          if (entry.done) return;
          this.#settle(entry);
          resolve(value);
        },
        (error: unknown) => {
          if (entry.done) return;
          this.#settle(entry);
          reject(error);
        },
      );
    });
  }

  get pending(): number {
    return this.#pending;
  }

  #settle(entry: Deadline): void {
    entry.done = true;
    if (--this.#pending === 0) this.#timer?.unref();
    this.#dropSettledHead();
  }

  #dropSettledHead(): void {
    const entries = this.#entries;
    let head = this.#head;
    while (head < entries.length && (entries[head] as Deadline).done) entries[head++] = undefined;
    if (head === entries.length) {
      entries.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > entries.length) {
      entries.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const entries = this.#entries;
    for (;;) {
      this.#dropSettledHead();
      const head = entries[this.#head];
      if (head === undefined) return;
      // Never early: a timer may fire a fraction of a ms before performance.now() reaches the deadline.
      if (head.at > now) {
        this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(head.at - now)));
        if (this.#pending === 0) this.#timer.unref();
        return;
      }
      head.done = true;
      this.#pending--;
      head.reject(head.onTimeout());
    }
  };
}
