/** Event-driven waits and recorders for the conformance suite: no fixed sleeps. */
import { randomUUID } from 'node:crypto';
import type { MessageHandler, MessageMetadata } from '../../runtime/core/types.ts';

export interface WaitOptions {
  timeoutMs?: number;
  /** Poll interval. Default 5 ms. */
  intervalMs?: number;
  /** Shown when the wait times out; a function is evaluated then (for current counts). */
  message?: string | (() => string);
}

/** Resolves once `predicate` holds; rejects with `message` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) {
      const message = typeof options.message === 'function' ? options.message() : (options.message ?? 'condition');
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves when `promise` does, or rejects after `timeoutMs` saying what was awaited. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Unique, broker-safe names (letters, digits, dots, dashes) so runs never see each other's leftovers. */
export function uniqueName(prefix: string): string {
  return `cb-conf.${prefix}.${randomUUID().slice(0, 8)}`;
}

export interface Received<T> {
  payload: T;
  metadata: MessageMetadata;
  at: number;
}

/** Records what a handler received; `handler` is what you pass to `subscribe`. */
export class Recorder<T = unknown> {
  readonly received: Array<Received<T>> = [];
  readonly handler: MessageHandler<T>;

  constructor(inner?: MessageHandler<T>) {
    this.handler = async (payload, metadata) => {
      this.received.push({ payload, metadata, at: Date.now() });
      if (inner) await inner(payload, metadata);
    };
  }

  get count(): number {
    return this.received.length;
  }

  ids(): string[] {
    return this.received.map((r) => r.metadata.messageId);
  }

  uniqueIds(): Set<string> {
    return new Set(this.ids());
  }

  payloads(): T[] {
    return this.received.map((r) => r.payload);
  }

  has(predicate: (r: Received<T>) => boolean): boolean {
    return this.received.some(predicate);
  }
}

/** A promise with its resolve exposed: a latch a test opens. */
export function latch(): { promise: Promise<void>; open: () => void; opened: boolean } {
  let open!: () => void;
  const state = {
    opened: false,
    promise: new Promise<void>((resolve) => (open = resolve)),
    open: () => {
      state.opened = true;
      open();
    },
  };
  return state;
}
