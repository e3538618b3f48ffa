/**
 * `instrumentBroker(broker)`: tracing and messaging metrics around any `MessageBroker`, from the
 * outside, for brokers whose client does not call the hooks itself (your own `MessageBroker`
 * implementations). Publishes get a producer span and trace headers; handlers run inside a consumer
 * span parented from those headers. A `BrokerClient` (every contractbus binding) takes
 * `hooks: new MessagingInstrumentation(...)` instead, which sees each round trip and attempt from
 * the inside; using both gives every message two nested spans.
 */
import { randomUUID } from 'node:crypto';
import type { Headers, MessageBroker, MessageHandler, PublishOptions, SubscribeOptions } from '../core/types.ts';
import { MessagingInstrumentation, type MessagingHooks, type MessagingInstrumentationOptions } from './tracing.ts';

export interface InstrumentBrokerOptions extends Partial<MessagingInstrumentationOptions> {
  /** Use these hooks instead of building a `MessagingInstrumentation`. */
  hooks?: MessagingHooks;
}

/**
 * A view of `broker` with `publish` and `subscribe` instrumented; every other member (binding
 * extras included) is the broker's own, bound to it.
 */
export function instrumentBroker<B extends MessageBroker>(broker: B, options: InstrumentBrokerOptions = {}): B {
  const hooks = options.hooks ?? new MessagingInstrumentation({ ...options, broker: options.broker ?? broker.name });

  const publish: MessageBroker['publish'] = (topic, message, publishOptions: PublishOptions = {}) => {
    // Copies: the caller's options object and headers stay untouched.
    const headers: Headers = { ...publishOptions.headers };
    const messageId = publishOptions.messageId ?? randomUUID();
    const info = { messageId, correlationId: publishOptions.correlationId, key: publishOptions.key };
    return hooks.wrapPublish(topic, headers, () => broker.publish(topic, message, { ...publishOptions, messageId, headers }), info);
  };

  const subscribe = <T>(topic: string, handler: MessageHandler<T>, subscribeOptions: SubscribeOptions<T> = {}) => {
    const traced: MessageHandler<T> = (payload, metadata) =>
      hooks.wrapProcess(
        metadata.topic,
        metadata.headers,
        {
          messageId: metadata.messageId,
          correlationId: metadata.correlationId,
          group: subscribeOptions.group,
          subscription: metadata.topic === topic ? undefined : topic,
          attempt: metadata.attempt,
          key: metadata.key,
        },
        () => handler(payload, metadata),
      );
    return broker.subscribe(topic, traced, subscribeOptions);
  };

  return new Proxy(broker, {
    get(target, property) {
      if (property === 'publish') return publish;
      if (property === 'subscribe') return subscribe;
      const value: unknown = Reflect.get(target, property, target);
      // Bound to the real broker: its methods use private fields a proxy receiver does not have.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
