// Public entry point of `contractbus` (the runtime). Bindings with a client library live behind their
// own subpaths (`contractbus/redis`, `/rabbitmq`, `/kafka`) so those libraries stay optional; the
// memory binding has no dependency and is exported here too.
export type * from './core/types.ts';
export * from './core/errors.ts';
export * from './core/headers.ts';
export type * from './core/transport.ts';
export * from './core/codec.ts';
export * from './core/client.ts';
export * from './core/connect.ts';
export * from './core/logger.ts';
export * from './core/metrics.ts';
export type { MessagingHooks, ProcessHookInfo, PublishHookInfo } from './core/hooks.ts';
export { isPatternTopic, topicMatcher } from './core/topic.ts';
export * from './core/validation.ts';
export * from './core/channel.ts';
export * from './reliability/index.ts';
export { MemoryBroker, MemoryHub, MemoryTransport, type MemoryBrokerOptions, type MemoryHubOptions, type MemoryHubStats } from './bindings/memory/index.ts';
