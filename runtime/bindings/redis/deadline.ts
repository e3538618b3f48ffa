/**
 * Per-call deadline and abort for a Redis round trip. ioredis's `commandTimeout` already bounds
 * every command, so a timer is only armed when the caller asks for less, or passes a signal.
 */
import { TimeoutError } from '../../core/errors.ts';

export function withDeadline<T>(work: Promise<T>, options: { timeoutMs: number; signal?: AbortSignal }, enforcedMs = Number.POSITIVE_INFINITY): Promise<T> {
  const { timeoutMs, signal } = options;
  const needsTimer = Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs < enforcedMs;
  if (!needsTimer && !signal) return work;
  if (signal?.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  }
  return new Promise<T>((resolve, reject) => {
    const timer = needsTimer ? setTimeout(() => done(new TimeoutError(`Redis command timed out after ${timeoutMs} ms`, { broker: 'redis' })), timeoutMs) : undefined;
    const onAbort = (): void => done(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    function done(error: unknown, value?: T): void {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value as T);
      else reject(error);
    }
    work.then(
      (value) => done(undefined, value),
      (error: unknown) => done(error ?? new Error('Redis command failed')),
    );
  });
}
