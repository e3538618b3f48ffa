// `contractbus/redis`: the only entry point that imports ioredis.
export { RedisPubSubTransport, PUBSUB_CAPABILITIES } from './pubsub-transport.ts';
export { RedisStreamsTransport, STREAMS_CAPABILITIES, PRIVATE_GROUP_PREFIX } from './streams-transport.ts';
export { RedisIdempotencyStore } from './idempotency-store.ts';
export type { RedisIdempotencyStoreOptions } from './idempotency-store.ts';
export { optionsFromUrl } from './options.ts';
export type {
  PubSubGap,
  RedisConnection,
  RedisConnectionOptions,
  RedisMode,
  RedisPubSubOptions,
  RedisSharedOptions,
  RedisStreamsOptions,
} from './options.ts';
export { RedisPubSubClient, RedisStreamsClient, fromUrl } from './client.ts';
export type { RedisPubSubClientOptions, RedisStreamsClientOptions } from './client.ts';
