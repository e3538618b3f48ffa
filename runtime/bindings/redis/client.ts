/**
 * The Redis `MessageBroker`s: two classes, one per delivery guarantee, because the choice changes
 * what a subscriber can rely on and should be visible where the broker is constructed.
 *
 *   RedisPubSubClient   redis://, rediss://                  at-most-once, patterns (PSUBSCRIBE)
 *   RedisStreamsClient  redis+streams://, rediss+streams://  at-least-once, consumer groups, durable
 *
 * Everything users see (retries, dead-lettering, validation, idempotency, metrics, drain) is the
 * shared BrokerClient; these add the Redis extras and the seed's option names.
 */
import { Cluster, Redis } from 'ioredis';
import { BrokerClient } from '../../core/client.ts';
import type { BrokerClientOptions } from '../../core/client.ts';
import { ConfigurationError } from '../../core/errors.ts';
import type { MessageBroker, MessageHandler, SubscribeOptions, Subscription } from '../../core/types.ts';
import { isPattern } from './pattern.ts';
import { RedisPubSubTransport } from './pubsub-transport.ts';
import { RedisStreamsTransport } from './streams-transport.ts';
import { optionsFromUrl } from './options.ts';
import type { RedisConnection, RedisMode, RedisPubSubOptions, RedisSharedOptions, RedisStreamsOptions } from './options.ts';

export interface RedisPubSubClientOptions extends RedisPubSubOptions, BrokerClientOptions {}
export interface RedisStreamsClientOptions extends RedisStreamsOptions, BrokerClientOptions {}

type SubscribeDefaults = Pick<SubscribeOptions, 'enableDlq' | 'dlqSuffix' | 'maxRetries'>;

export class RedisPubSubClient extends BrokerClient {
  readonly #redis: RedisPubSubTransport;
  readonly #defaults: SubscribeDefaults;

  /** Options, a `redis://` / `rediss://` URL, or an existing ioredis `Redis`/`Cluster` (left open on disconnect). */
  constructor(options: RedisPubSubClientOptions | string | URL | RedisConnection = {}) {
    const resolved = normalise<RedisPubSubClientOptions>(options, 'pubsub');
    const transport = new RedisPubSubTransport(resolved);
    super(transport, resolved);
    this.#redis = transport;
    this.#defaults = subscribeDefaults(resolved);
  }

  /** The transport underneath (connections, gap count, raw health). */
  get redis(): RedisPubSubTransport {
    return this.#redis;
  }

  /** Times the subscriber connection was lost while subscribed: each is a window of lost messages. */
  get gapCount(): number {
    return this.#redis.gapCount;
  }

  override subscribe<T = unknown>(topic: string, handler: MessageHandler<T>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    return super.subscribe(topic, handler, { ...this.#defaults, ...options });
  }

  /**
   * Subscribes to every channel matching `pattern`: `*` one dot-separated segment, `#` any number
   * (`user.*`, `orders.#`). Redis PSUBSCRIBE does the coarse match, an exact filter the rest;
   * `metadata.topic` is the concrete channel.
   */
  subscribePattern<T = unknown>(pattern: string, handler: MessageHandler<T>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    if (!isPattern(pattern)) {
      return Promise.reject(
        new ConfigurationError(`subscribePattern("${pattern}") has no wildcard segment`, {
          broker: 'redis',
          topic: pattern,
          hint: 'Use * for one segment or # for any number (e.g. "user.*", "orders.#"), or subscribe() for a single channel',
        }),
      );
    }
    return this.subscribe(pattern, handler, options);
  }
}

export class RedisStreamsClient extends BrokerClient {
  readonly #redis: RedisStreamsTransport;
  readonly #defaults: SubscribeDefaults;

  /** Options, a `redis+streams://` / `rediss+streams://` URL, or an existing ioredis `Redis`/`Cluster` (left open on disconnect). */
  constructor(options: RedisStreamsClientOptions | string | URL | RedisConnection = {}) {
    const resolved = normalise<RedisStreamsClientOptions>(options, 'streams');
    const transport = new RedisStreamsTransport(resolved);
    super(transport, resolved);
    this.#redis = transport;
    this.#defaults = subscribeDefaults(resolved);
  }

  get redis(): RedisStreamsTransport {
    return this.#redis;
  }

  override subscribe<T = unknown>(topic: string, handler: MessageHandler<T>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    const claimIdleMs = this.#redis.settings.claimIdleMs;
    if (options.handlerTimeoutMs !== undefined && options.handlerTimeoutMs >= claimIdleMs) {
      return Promise.reject(
        new ConfigurationError(`handlerTimeoutMs (${options.handlerTimeoutMs}) on stream "${topic}" must be below claimIdleMs (${claimIdleMs})`, {
          broker: 'redis',
          topic,
          hint: 'Otherwise another consumer reclaims a message while its handler still runs: raise claimIdleMs or lower handlerTimeoutMs',
        }),
      );
    }
    return super.subscribe(topic, handler, { ...this.#defaults, ...options });
  }
}

/** `connect('redis://…')` and friends: Pub/Sub for redis:// and rediss://, Streams for redis+streams:// and rediss+streams://. */
export function fromUrl(url: URL, options: Record<string, unknown> = {}): MessageBroker {
  const { mode } = optionsFromUrl(url);
  return mode === 'streams' ? new RedisStreamsClient({ ...(options as RedisStreamsClientOptions), url }) : new RedisPubSubClient({ ...(options as RedisPubSubClientOptions), url });
}

function normalise<T extends RedisPubSubClientOptions | RedisStreamsClientOptions>(options: T | string | URL | RedisConnection, expected: RedisMode): T {
  if (options instanceof Redis || options instanceof Cluster) return { client: options } as T;
  const resolved = (typeof options === 'string' || options instanceof URL ? { url: options } : options) as T;
  if (resolved.url !== undefined) {
    // A plain redis:// URL only names the server: the class picks the mode. A +streams / +pubsub scheme must agree.
    const scheme = (typeof resolved.url === 'string' ? resolved.url : resolved.url.href).split(':')[0]?.toLowerCase() ?? '';
    const mode: RedisMode | undefined = scheme.endsWith('+streams') ? 'streams' : scheme.endsWith('+pubsub') ? 'pubsub' : (optionsFromUrl(resolved.url), undefined);
    if (mode !== undefined && mode !== expected) {
      const other = expected === 'pubsub' ? 'RedisStreamsClient' : 'RedisPubSubClient';
      throw new ConfigurationError(`Redis: the URL selects ${mode === 'streams' ? 'Streams' : 'Pub/Sub'} but this is the ${expected === 'streams' ? 'Streams' : 'Pub/Sub'} client`, {
        broker: 'redis',
        hint: `Use ${other}, or connect(url) which picks the client from the scheme (redis:// Pub/Sub, redis+streams:// Streams)`,
      });
    }
  }
  return resolved;
}

function subscribeDefaults(options: RedisSharedOptions): SubscribeDefaults {
  const defaults: SubscribeDefaults = {};
  if (options.enableDlq !== undefined) defaults.enableDlq = options.enableDlq;
  if (options.dlqSuffix !== undefined) defaults.dlqSuffix = options.dlqSuffix;
  if (options.maxRetries !== undefined) defaults.maxRetries = options.maxRetries;
  return defaults;
}
