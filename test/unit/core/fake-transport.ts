/**
 * A scriptable Transport for unit tests of the client pipeline: the test decides what the
 * "broker" delivers and sees every ack, nack and send. Broker behaviour itself is proven by the
 * conformance suite against real brokers; this only isolates the shared layer.
 */
import type { ConsumeSpec, Delivery, Transport, TransportSubscription, WireMessage } from '../../../runtime/core/transport.ts';
import type { BrokerCapabilities, HealthStatus } from '../../../runtime/core/types.ts';

export const BASIC_CAPABILITIES: BrokerCapabilities = {
  deliveryGuarantee: 'at-least-once',
  durable: false,
  consumerGroups: false,
  patternSubscribe: false,
  orderingByKey: false,
  nativeHeaders: true,
  nativeTtl: false,
  nativePriority: false,
  nativeDeadLetter: false,
  delayedRedelivery: false,
  redeliveryOnCrash: false,
};

export class FakeDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly settlements: Array<'ack' | { requeue: boolean; delayMs?: number }> = [];

  /** When set, ack() returns it: resolves only once it does (a broker slow to confirm acks), or ACK_SENT. */
  readonly #ackGate: Promise<void> | undefined;

  constructor(message: WireMessage, deliveryCount = 1, ackGate?: Promise<void>) {
    this.message = message;
    this.deliveryCount = deliveryCount;
    this.#ackGate = ackGate;
  }

  ack(): Promise<void> {
    this.settlements.push('ack');
    return this.#ackGate ?? Promise.resolve();
  }

  async nack(options: { requeue: boolean; delayMs?: number }): Promise<void> {
    this.settlements.push(options);
  }
}

export class FakeTransport implements Transport {
  readonly name = 'fake';
  readonly capabilities: BrokerCapabilities;
  readonly sent: WireMessage[] = [];
  readonly consumers: Array<{ spec: ConsumeSpec; onDelivery: (d: Delivery) => Promise<void>; paused: boolean; closed: boolean }> = [];
  /** Replace to make sends slow or failing. */
  sendImpl: (message: WireMessage) => Promise<{ offset?: string }> = async () => ({ offset: String(this.sent.length) });
  healthImpl: () => Promise<HealthStatus> = async () => ({ isHealthy: true, issues: [], details: {} });
  connected = false;

  constructor(capabilities: Partial<BrokerCapabilities> = {}) {
    this.capabilities = { ...BASIC_CAPABILITIES, ...capabilities };
  }

  async connect(): Promise<void> {
    this.connected = true;
  }

  async close(): Promise<void> {
    this.connected = false;
  }

  async send(message: WireMessage): Promise<{ offset?: string }> {
    const result = await this.sendImpl(message);
    this.sent.push(message);
    return result;
  }

  async consume(spec: ConsumeSpec, onDelivery: (d: Delivery) => Promise<void>): Promise<TransportSubscription> {
    const consumer = { spec, onDelivery, paused: false, closed: false };
    this.consumers.push(consumer);
    return {
      pause: () => {
        consumer.paused = true;
      },
      resume: () => {
        consumer.paused = false;
      },
      close: async () => {
        consumer.closed = true;
      },
    };
  }

  health(): Promise<HealthStatus> {
    return this.healthImpl();
  }

  /** Deliveries made while set confirm their acks only once it resolves. */
  ackGate: Promise<void> | undefined;

  /** Hands a delivery to the latest consumer and returns it with the pipeline's promise. */
  deliver(message: Partial<WireMessage> & { body: Uint8Array }, deliveryCount = 1, consumerIndex = this.consumers.length - 1): { delivery: FakeDelivery; done: Promise<void> } {
    const consumer = this.consumers[consumerIndex];
    if (!consumer) throw new Error('no consumer');
    const delivery = new FakeDelivery(
      { messageId: 'm-1', topic: consumer.spec.topic, headers: {}, contentType: 'application/json', timestamp: Date.now(), ...message },
      deliveryCount,
      this.ackGate,
    );
    return { delivery, done: consumer.onDelivery(delivery) };
  }
}

export function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
