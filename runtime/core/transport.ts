/**
 * The seam between the shared runtime (reliability, observability, codec) and a binding.
 * A binding implements `Transport`: moving bytes with headers, acks and redelivery, nothing more.
 * Everything users see (`MessageBroker`) is built once on top of it in `BrokerClient`.
 */
import type { BrokerCapabilities, Headers, HealthStatus } from './types.ts';

/** A message as it travels: the encoded payload plus first-class metadata and string headers. */
export interface WireMessage {
  messageId: string;
  topic: string;
  /** Encoded payload (the contract's JSON by default). */
  body: Uint8Array;
  /** User headers plus reliability headers (`x-contractbus-*`, see headers.ts). */
  headers: Headers;
  contentType: string;
  correlationId?: string;
  key?: string;
  /** Epoch ms when published. */
  timestamp: number;
  priority?: number;
  /** Epoch ms after which the message must not be handled. */
  expiresAt?: number;
}

/**
 * What `Delivery.ack()`/`nack()` return when the settlement is complete once the call returns
 * (nothing for the broker to confirm: a Kafka offset committed later, an AMQP basic.ack, Pub/Sub,
 * the in-memory hub). The pipeline recognises it by identity and then neither awaits the ack nor
 * counts it as unconfirmed, so a handler's slot is free again before the next delivery arrives.
 */
export const ACK_SENT: Promise<void> = Promise.resolve();

/** One delivery of a message to a consumer. ack/nack are idempotent and mutually exclusive. */
export interface Delivery {
  message: WireMessage;
  /** 1 on first delivery; the broker's delivery count where it keeps one. */
  deliveryCount: number;
  ack(): Promise<void>;
  /**
   * requeue true: deliver again later (after `delayMs` where `capabilities.delayedRedelivery`).
   * requeue false: drop (the shared layer dead-letters before calling this).
   */
  nack(options: { requeue: boolean; delayMs?: number }): Promise<void>;
}

export interface ConsumeSpec {
  /** Topic, or a pattern with `*`/`#` when `patternSubscribe` is declared. */
  topic: string;
  /** Consumer group; undefined means a private group for this subscription (fan-out). */
  group: string | undefined;
  /** Upper bound of unacked deliveries handed to `onDelivery` at once. */
  prefetch: number;
  startFrom: 'earliest' | 'latest';
}

export interface TransportSubscription {
  /** Stop fetching new deliveries; deliveries already handed out may still be acked/nacked. */
  pause(): Promise<void> | void;
  resume(): Promise<void> | void;
  /** Detach from the broker. Called after in-flight deliveries settled (or the drain timed out). */
  close(): Promise<void>;
  /**
   * Optional: false once the consumer died and will not recover by itself (health reports it).
   * Absent means "alive until closed".
   */
  readonly alive?: boolean;
}

export interface Transport {
  readonly name: string;
  readonly capabilities: BrokerCapabilities;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Resolves once the broker has accepted the message (confirm / ack), or rejects with a typed error. */
  send(message: WireMessage, options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ partition?: number; offset?: string }>;
  /**
   * Starts delivering. `onDelivery` is awaited per delivery, but the transport may call it
   * again before it resolves, up to `prefetch` unsettled deliveries.
   */
  consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription>;
  health(): Promise<HealthStatus>;
}
