/**
 * Every broker round trip gets a deadline (house rule): neither client library bounds all of its
 * calls on its own (kafkajs retries for up to its maxRetryTime per attempt, several attempts).
 */
import { TimeoutError } from '../../../core/errors.ts';

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`Kafka: ${what} did not complete within ${timeoutMs} ms`, { broker: 'kafka', hint: 'Check that the brokers in bootstrapServers are reachable, or raise the timeout' })),
      timeoutMs,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
