/**
 * Delayed redelivery without holding messages in process and without hot loops: a delayed nack
 * publishes a copy (confirmed) to `<queue>.retry.<ms>`, a queue with `x-message-ttl = ms` that
 * dead-letters through the default exchange straight back to `<queue>`, then acks the original.
 * A crash between the two leaves a duplicate, never a loss (at-least-once).
 *
 * One queue per delay bucket, with a queue-level TTL, because per-message TTL in one shared retry
 * queue blocks at the head: RabbitMQ only expires the message at the front, so a 30 s message
 * would hold back a 200 ms one behind it. Delays are rounded to a geometric ladder (≈ ±6 %, well
 * inside the retry jitter) so a queue sees a bounded number of buckets (about 25 between 100 ms
 * and 30 s). Idle retry queues delete themselves (`x-expires`), long after their TTL has passed.
 */
import type { Options } from 'amqplib';

/** Steps per decade of the ladder: 20 → each bucket is 10^(1/20) ≈ 1.12× the previous. */
const STEPS_PER_DECADE = 20;
/** How long after its last declaration an unused retry queue may live. */
export const RETRY_QUEUE_IDLE_MS = 30 * 60_000;
/** Re-assert a bucket queue at least this often so `x-expires` never removes one that is still used. */
export const RETRY_QUEUE_REASSERT_MS = 10 * 60_000;

export function delayBucket(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  if (delayMs <= 10) return Math.ceil(delayMs);
  const step = Math.round(Math.log10(delayMs) * STEPS_PER_DECADE);
  // Two significant digits keep the queue names readable (…retry.2000, not …retry.1995).
  return Number((10 ** (step / STEPS_PER_DECADE)).toPrecision(2));
}

export function retryQueueName(queue: string, bucketMs: number): string {
  return `${queue}.retry.${bucketMs}`;
}

export function retryQueueOptions(queue: string, bucketMs: number): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      'x-message-ttl': bucketMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queue,
      'x-expires': bucketMs + RETRY_QUEUE_IDLE_MS,
      'x-queue-type': 'classic',
    },
  };
}
