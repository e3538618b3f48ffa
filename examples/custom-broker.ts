/**
 * Bring your own transport: implement the small `Transport` seam (send, consume, ack/nack, health)
 * for any message system, hand it to `BrokerClient`, and get the whole `MessageBroker` for free:
 * JSON codec with size bounds, validation, retries with backoff, dead-letter topic with reason
 * headers, idempotency, per-key ordered concurrency, circuit breaker, graceful drain, metrics, health.
 *
 * The toy transport below moves messages over a node:events EventEmitter (one process, no
 * persistence): it declares exactly that in its capabilities, and the runtime respects them.
 *
 *   node --conditions=development examples/custom-broker.ts
 */
import { EventEmitter } from 'node:events';
import { BrokerClient, CapabilityError, NonRetryableError, consoleLogger, type BrokerCapabilities, type ConsumeSpec, type Delivery, type HealthStatus, type Transport, type TransportSubscription, type WireMessage } from 'contractbus';

class EventEmitterTransport implements Transport {
  readonly name = 'event-emitter';
  readonly capabilities: BrokerCapabilities = {
    deliveryGuarantee: 'at-most-once', // nothing survives a crash
    durable: false,
    consumerGroups: false,
    patternSubscribe: false,
    orderingByKey: false,
    nativeHeaders: true,
    nativeTtl: false,
    nativePriority: false,
    nativeDeadLetter: false,
    delayedRedelivery: false, // so the runtime retries in process, holding the message
    redeliveryOnCrash: false,
  };
  readonly #bus = new EventEmitter();
  #open = false;

  async connect(): Promise<void> {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.#open = false;
    this.#bus.removeAllListeners();
  }

  async send(message: WireMessage): Promise<{ offset?: string }> {
    if (!this.#open) throw new Error('event-emitter transport is closed');
    // Deliver on a later tick, like a network broker would.
    setImmediate(() => this.#bus.emit(message.topic, message));
    return {};
  }

  async consume(spec: ConsumeSpec, onDelivery: (delivery: Delivery) => Promise<void>): Promise<TransportSubscription> {
    let paused = false;
    let unsettled = 0;
    const backlog: WireMessage[] = [];
    const pump = (): void => {
      while (!paused && unsettled < spec.prefetch && backlog.length > 0) {
        const message = backlog.shift() as WireMessage;
        unsettled++;
        let settled = false;
        const settle = async (): Promise<void> => {
          if (settled) return;
          settled = true;
          unsettled--;
          pump();
        };
        void onDelivery({
          message,
          deliveryCount: 1,
          ack: settle,
          // A requeue goes to the back of this subscription's backlog: the only "redelivery" we have.
          nack: async ({ requeue }) => {
            if (!settled && requeue) backlog.push(message);
            await settle();
          },
        });
      }
    };
    const listener = (message: WireMessage): void => {
      backlog.push(message);
      pump();
    };
    this.#bus.on(spec.topic, listener);
    return {
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
        pump();
      },
      close: async () => {
        this.#bus.off(spec.topic, listener);
      },
    };
  }

  async health(): Promise<HealthStatus> {
    return { isHealthy: this.#open, issues: this.#open ? [] : ['event-emitter: closed'], details: { topics: this.#bus.eventNames().length } };
  }
}

/** A binding is just this: BrokerClient plus whatever native extras the system has. */
class EventEmitterBroker extends BrokerClient {
  constructor() {
    super(new EventEmitterTransport(), { logger: consoleLogger('warn') });
  }
}

const broker = new EventEmitterBroker();
await broker.connect();

interface Order {
  id: number;
  amount: number;
}

const validateOrder = (payload: unknown): Order => {
  const order = payload as Partial<Order> | null;
  if (typeof order?.id !== 'number' || typeof order.amount !== 'number') throw new NonRetryableError(`not an order: ${JSON.stringify(payload)}`);
  return order as Order;
};

let flaky = 0;
const done = new Promise<void>((resolve) => {
  let handled = 0;
  void broker.subscribe<Order>(
    'orders',
    async (order, meta) => {
      if (order.id === 2 && ++flaky < 3) {
        console.log(`order ${order.id}: attempt ${meta.attempt} fails (a flaky dependency)`);
        throw new Error('inventory service timeout');
      }
      if (order.id === 3) throw new Error('inventory says no, every time');
      console.log(`order ${order.id}: handled on attempt ${meta.attempt} (amount ${order.amount})`);
      if (++handled === 2) resolve();
    },
    { validate: validateOrder, maxRetries: 2, retryDelay: 20, concurrency: 2 },
  );
});

const deadLetters: string[] = [];
await broker.subscribe('orders.dlq', (payload, meta) => {
  deadLetters.push(`${JSON.stringify(payload)} — ${meta.headers['x-contractbus-dlq-reason']}: ${meta.headers['x-contractbus-dlq-error-message']}`);
});

try {
  await broker.subscribe('orders', () => {}, { group: 'billing' });
} catch (error) {
  if (error instanceof CapabilityError) console.log(`capability gate: ${error.message.split('.')[0]}`);
}

await broker.publish('orders', { id: 1, amount: 10 });
await broker.publish('orders', { id: 2, amount: 20 });
await broker.publish('orders', { id: 3, amount: 30 });
await broker.publish('orders', { id: 'four' });
await done;
while (deadLetters.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));

console.log('dead letters:');
for (const line of deadLetters) console.log(`  ${line}`);
const metrics = broker.getMetrics().byTopic.orders;
console.log('metrics for "orders":', metrics);
console.log('health:', (await broker.healthCheck()).isHealthy ? 'healthy' : 'unhealthy');
await broker.disconnect();
console.log('disconnected after draining in-flight handlers');
