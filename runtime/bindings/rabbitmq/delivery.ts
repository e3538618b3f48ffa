/**
 * One AMQP delivery as a contractbus `Delivery` (and the richer `RawDelivery` of the native
 * consume API). A class rather than closures: one small object per message on the hot path.
 * ack/nack are idempotent and mutually exclusive; they go to the channel the delivery came on
 * (QueueConsumer drops them if that channel has died).
 */
import type { ConsumeMessage } from 'amqplib';
import { ACK_SENT, type Delivery, type WireMessage } from '../../core/transport.ts';
import type { ConsumerChannel, QueueConsumer } from './consumer.ts';
import { deliveryCountOf, fromConsumeMessage } from './wire.ts';

/** Parks a copy in a TTL retry queue (confirmed); rejects if it could not. */
export type ParkForRetry = (queue: string, msg: ConsumeMessage, topic: string, deliveryCount: number, delayMs: number) => Promise<void>;

export class AmqpDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly raw: ConsumeMessage;
  #settled = false;
  readonly #consumer: QueueConsumer;
  readonly #via: ConsumerChannel;
  readonly #park: ParkForRetry;

  constructor(consumer: QueueConsumer, msg: ConsumeMessage, via: ConsumerChannel, park: ParkForRetry) {
    this.message = fromConsumeMessage(msg);
    this.deliveryCount = deliveryCountOf(msg);
    this.raw = msg;
    this.#consumer = consumer;
    this.#via = via;
    this.#park = park;
  }

  get redelivered(): boolean {
    return this.raw.fields.redelivered;
  }

  /** The exchange and routing key it was published with. */
  get exchange(): string {
    return this.raw.fields.exchange;
  }

  get routingKey(): string {
    return this.raw.fields.routingKey;
  }

  /** basic.ack has no reply: the ack is sent (with the channel's next batch) once this returns. */
  ack(): Promise<void> {
    if (this.#settled) return ACK_SENT;
    this.#settled = true;
    this.#consumer.ack(this.raw, this.#via);
    return ACK_SENT;
  }

  /**
   * requeue false (default): reject (the queue's x-dead-letter-exchange, if any, gets it).
   * requeue true: back to the queue at once, or after `delayMs` through a TTL retry queue.
   */
  async nack(options: { requeue?: boolean; delayMs?: number } = {}): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    const requeue = options.requeue ?? false;
    const delayMs = options.delayMs ?? 0;
    if (requeue && delayMs > 0 && this.#via.open) {
      try {
        await this.#park(this.#consumer.queue, this.raw, this.message.topic, this.deliveryCount, delayMs);
        this.#consumer.ack(this.raw, this.#via);
        return;
      } catch {
        // Could not park it: hand it straight back rather than lose it.
      }
    }
    this.#consumer.nack(this.raw, this.#via, requeue);
  }
}
