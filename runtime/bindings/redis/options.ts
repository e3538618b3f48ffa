/**
 * Options of the Redis binding and how a URL becomes them. Seed option names (host, port, db,
 * password, tls/ssl, maxConnections, retryOnTimeout, autoReconnect, reconnectDelay,
 * maxReconnectAttempts, enableDlq, dlqSuffix, maxRetries) are kept; everything ioredis itself
 * offers (Sentinel, Cluster, TLS details) passes through untouched.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { isIP } from 'node:net';
import { ConfigurationError } from '../../core/errors.ts';

export type RedisMode = 'pubsub' | 'streams';

/** Either a standalone/Sentinel connection or a Cluster: the binding only uses what both offer. */
export type RedisConnection = Redis | Cluster;

export interface RedisConnectionOptions {
  /** `redis://`, `rediss://`, `redis+streams://`, `rediss+streams://`; explicit options win over it. */
  url?: string | URL;
  host?: string;
  port?: number;
  db?: number;
  username?: string;
  password?: string;
  /** true, or Node TLS options (ca, cert, key, servername, …). */
  tls?: boolean | TlsConnectionOptions;
  /** Seed alias of `tls`. */
  ssl?: boolean | TlsConnectionOptions;
  /**
   * Upper bound of Redis connections this client opens: one for commands, one subscriber
   * connection (Pub/Sub), one blocking connection per Streams subscription. Default 32.
   */
  maxConnections?: number;
  /** Retry a publish once when its round trip timed out (may duplicate, never loses). Default false. */
  retryOnTimeout?: boolean;
  /** Reconnect after a lost connection. Default true. */
  autoReconnect?: boolean;
  /** First reconnect delay in ms, doubled per attempt up to `maxReconnectDelay`. Default 100. */
  reconnectDelay?: number;
  /** Default 5 000 ms. */
  maxReconnectDelay?: number;
  /** Attempts before giving up; 0 or undefined: keep trying. */
  maxReconnectAttempts?: number;
  /** Timeout of every Redis round trip in ms (ioredis `commandTimeout`). Default 5 000. */
  commandTimeoutMs?: number;
  /** Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Publishes that wait while Redis is reconnecting (each until its own timeout); past this a publish
   * fails at once with BufferFullError. 0: fail fast whenever Redis is not connected. Default 1 000.
   */
  publishBufferSize?: number;
  /** Byte bound of the same buffer. Default 16 MiB. */
  publishBufferBytes?: number;
  /** Shown in `CLIENT LIST`. Default `contractbus`. */
  connectionName?: string;
  /** An existing ioredis `Redis` or `Cluster`: used for commands, `duplicate()`d for blocking / subscriber work. */
  client?: RedisConnection;
  /** Connect to a Redis Cluster (ioredis `Cluster`). */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /** Passed to ioredis as is (Sentinel: `sentinels` + `name`; anything else ioredis offers). */
  redisOptions?: RedisOptions;
}

export interface RedisSharedOptions {
  /** Dead-letter failed messages. Default true. */
  enableDlq?: boolean;
  /** Default `.dlq`. */
  dlqSuffix?: string;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
}

export interface RedisPubSubOptions extends RedisConnectionOptions, RedisSharedOptions {
  /**
   * Messages kept per subscription while its handlers are busy. Redis Pub/Sub cannot pause a
   * publisher: past this bound messages are dropped and counted (health reports it). Default 10 000.
   */
  maxBufferedPerSubscription?: number;
  /** Also append dead-lettered messages to a Redis Stream of the same name, so they survive. Default true. */
  durableDeadLetters?: boolean;
  /**
   * Publishes to one channel within the same tick go as one PUBLISH holding a CloudEvents JSON batch
   * (an array of the usual envelopes; a lone publish stays a single envelope). contractbus
   * subscribers read both. Turn off when subscribers that are not contractbus read the channel and
   * expect one event per message. Default true.
   */
  batchPublishes?: boolean;
  /** Called when the subscriber connection was lost and messages published meanwhile are gone. */
  onGap?: (gap: PubSubGap) => void;
}

export interface PubSubGap {
  /** Epoch ms of the disconnect and of the moment subscriptions were active again. */
  from: number;
  to: number;
  /** Why Redis dropped the connection, when it said so. */
  reason: string;
  /** Channels and patterns subscribed during the gap. */
  subscriptions: string[];
}

export interface RedisStreamsOptions extends RedisConnectionOptions, RedisSharedOptions {
  /**
   * Publishes to one stream within the same tick are appended by one Lua script call (each entry
   * still its own XADD with its own id, in order) instead of one XADD each: a fraction of the client
   * CPU per message for a little more Redis CPU. Falls back to plain XADD by itself where Redis
   * refuses scripts (ACLs without EVALSHA/EVAL). Default true.
   */
  batchPublishes?: boolean;
  /** Approximate stream length kept by `XADD … MAXLEN ~`. Default 100 000; 0 disables trimming. */
  maxLen?: number;
  /**
   * An entry pending longer than this (a consumer died or hangs) is reclaimed by another consumer.
   * Must exceed the longest handler run. Default 60 000 ms.
   */
  claimIdleMs?: number;
  /** How often a subscription looks for idle pending entries. Default min(claimIdleMs / 2, 5 000). */
  claimIntervalMs?: number;
  /** Server-side block of one XREADGROUP, in ms. Default 2 000. */
  blockMs?: number;
  /** Consumer name in the group. Default `<hostname>-<pid>-<random>`; a stable name resumes its own pending entries. */
  consumerName?: string;
  /**
   * A private (group-less) subscription's group is destroyed on close. One left behind by a process
   * that died is destroyed by the next private subscription to the stream once it is this old and
   * its consumers were silent as long. 0: never. Default 24 h.
   */
  privateGroupTtlMs?: number;
  /**
   * Consumers of a named group with nothing pending that have been idle this long (processes that
   * exited: each run has its own consumer name) are removed when a subscription to the group starts,
   * atomically (a consumer holding entries is never removed). 0: never. Default 24 h.
   */
  staleConsumerMs?: number;
}

export interface ResolvedConnectionOptions {
  redisOptions: RedisOptions;
  cluster: { nodes: ClusterNode[]; options?: ClusterOptions } | undefined;
  client: RedisConnection | undefined;
  maxConnections: number;
  retryOnTimeout: boolean;
  commandTimeoutMs: number;
  publishBuffer: { maxMessages: number; maxBytes: number };
  /** Describes the target in errors and health without credentials. */
  endpoint: string;
}

const DEFAULT_PORT = 6379;

/** Reads a `redis…://` URL into options. Query parameters: db, maxLen, claimIdleMs, blockMs, commandTimeoutMs, consumerName. */
export function optionsFromUrl(input: string | URL): { mode: RedisMode; options: RedisStreamsOptions & RedisPubSubOptions } {
  const url = typeof input === 'string' ? parseUrl(input) : input;
  const scheme = url.protocol.replace(/:$/, '');
  const known: Record<string, { mode: RedisMode; tls: boolean }> = {
    redis: { mode: 'pubsub', tls: false },
    rediss: { mode: 'pubsub', tls: true },
    'redis+streams': { mode: 'streams', tls: false },
    'rediss+streams': { mode: 'streams', tls: true },
    'redis+pubsub': { mode: 'pubsub', tls: false },
    'rediss+pubsub': { mode: 'pubsub', tls: true },
  };
  const found = known[scheme];
  if (!found) {
    throw new ConfigurationError(`Redis: unsupported URL scheme "${scheme}:"`, {
      broker: 'redis',
      hint: 'Use redis:// or rediss:// (Pub/Sub), redis+streams:// or rediss+streams:// (Streams)',
    });
  }
  const options: RedisStreamsOptions & RedisPubSubOptions = {};
  if (url.hostname) options.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.port) options.port = Number(url.port);
  if (url.username) options.username = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  const dbFromPath = url.pathname.replace(/^\//, '');
  const db = url.searchParams.get('db') ?? (dbFromPath === '' ? undefined : dbFromPath);
  if (db !== undefined) options.db = integer(db, 'db');
  // SNI takes host names only; an IP address is verified against the certificate's IP SANs instead.
  if (found.tls) options.tls = options.host && isIP(options.host) === 0 ? { servername: options.host } : true;
  const numeric = ['publishBufferSize', 'privateGroupTtlMs', 'staleConsumerMs', 'maxLen', 'claimIdleMs', 'claimIntervalMs', 'blockMs', 'commandTimeoutMs', 'connectTimeoutMs', 'maxConnections', 'maxReconnectAttempts', 'reconnectDelay'] as const;
  for (const name of numeric) {
    const value = url.searchParams.get(name);
    if (value !== null) options[name] = integer(value, name);
  }
  const consumerName = url.searchParams.get('consumerName');
  if (consumerName) options.consumerName = consumerName;
  const mode = url.searchParams.get('mode');
  if (mode !== null && mode !== 'pubsub' && mode !== 'streams') {
    throw new ConfigurationError(`Redis: URL parameter mode=${mode} is not pubsub or streams`, { broker: 'redis' });
  }
  return { mode: (mode as RedisMode | null) ?? found.mode, options };
}

export function resolveConnectionOptions(options: RedisConnectionOptions): ResolvedConnectionOptions {
  const fromUrl = options.url === undefined ? {} : optionsFromUrl(options.url).options;
  const merged: RedisConnectionOptions = { ...fromUrl, ...definedOnly(options) };
  const tls = merged.tls ?? merged.ssl;
  const commandTimeoutMs = merged.commandTimeoutMs ?? 5_000;
  if (!(Number.isFinite(commandTimeoutMs) && commandTimeoutMs > 0)) {
    // ioredis would arm a 0 ms timer and fail every command.
    throw new ConfigurationError(`Redis: commandTimeoutMs must be a number of ms > 0 (got ${commandTimeoutMs})`, { broker: 'redis', hint: 'Every Redis round trip is bounded; pick a generous value such as 5000 rather than turning it off' });
  }
  const autoReconnect = merged.autoReconnect ?? true;
  const firstDelay = merged.reconnectDelay ?? 100;
  const maxDelay = merged.maxReconnectDelay ?? 5_000;
  const maxAttempts = merged.maxReconnectAttempts ?? 0;
  const redisOptions: RedisOptions = {
    host: merged.host ?? '127.0.0.1',
    port: merged.port ?? DEFAULT_PORT,
    db: merged.db ?? 0,
    connectionName: merged.connectionName ?? 'contractbus',
    // We connect explicitly so connect() can report a clear error instead of a silent background retry.
    lazyConnect: true,
    // ioredis would queue commands without bound while disconnected; we fail fast and let the
    // shared BoundedPublishBuffer decide what to hold.
    enableOfflineQueue: false,
    // Round trips on the command connection are bounded by RoundTripWatchdog (one interval instead of
    // a timer per command); connections opened for other work set their own commandTimeout.
    connectTimeout: merged.connectTimeoutMs ?? 10_000,
    // A command in flight when the connection drops fails after one reconnect attempt instead of 20.
    maxRetriesPerRequest: 1,
    // Commands issued in the same tick (concurrent publishes, acks) share one socket write.
    enableAutoPipelining: true,
    // Except those the transports already gather per tick (Streams' batched appends and acks, Pub/Sub's
    // batched PUBLISH per channel): ioredis defers an auto-pipelined command to setImmediate, a whole
    // event-loop turn, which only delayed them. Measured (9 alternating rounds, 100 publishers and a
    // consumer in one process): Streams end to end +21 %, backlog drain +4 %, publishing alone
    // unchanged; Pub/Sub end to end +12–17 %, publishing alone +3–9 %.
    autoPipeliningIgnoredCommands: ['evalsha', 'eval', 'xack', 'publish'],
    retryStrategy: (times: number): number | null => {
      if (!autoReconnect) return null;
      if (maxAttempts > 0 && times > maxAttempts) return null;
      const base = Math.min(maxDelay, firstDelay * 2 ** Math.min(times - 1, 20));
      return Math.round(base * (0.8 + Math.random() * 0.4));
    },
    ...merged.redisOptions,
  };
  if (merged.username !== undefined) redisOptions.username = merged.username;
  if (merged.password !== undefined) redisOptions.password = merged.password;
  if (tls) redisOptions.tls = tls === true ? {} : tls;
  const maxConnections = merged.maxConnections ?? 32;
  if (!Number.isInteger(maxConnections) || maxConnections < 2) {
    throw new ConfigurationError(`Redis: maxConnections must be an integer ≥ 2 (got ${maxConnections})`, {
      broker: 'redis',
      hint: 'One connection serves commands, at least one more serves subscriptions',
    });
  }
  const endpoint = merged.cluster
    ? `cluster(${merged.cluster.nodes.map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? DEFAULT_PORT}` : String(n))).join(',')})`
    : redisOptions.sentinels
      ? `sentinel(${redisOptions.name ?? 'mymaster'})`
      : `${tls ? 'rediss' : 'redis'}://${redisOptions.host}:${redisOptions.port}/${redisOptions.db}`;
  return {
    redisOptions,
    cluster: merged.cluster,
    client: merged.client,
    maxConnections,
    retryOnTimeout: merged.retryOnTimeout ?? false,
    commandTimeoutMs,
    publishBuffer: { maxMessages: merged.publishBufferSize ?? 1_000, maxBytes: merged.publishBufferBytes ?? 16 * 1024 * 1024 },
    endpoint,
  };
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch (cause) {
    throw new ConfigurationError(`Redis: "${redact(text)}" is not a valid URL`, { broker: 'redis', cause, hint: 'Expected e.g. redis://127.0.0.1:6379/0' });
  }
}

function integer(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigurationError(`Redis: URL parameter ${name}=${value} is not a non-negative integer`, { broker: 'redis' });
  }
  return n;
}

function redact(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//***@');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
