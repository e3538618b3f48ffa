/**
 * Options of the RabbitMQ binding and their safe defaults (modelled on Rascal's
 * lib/config/baseline.js: confirms on, persistent, mandatory, bounded prefetch, reconnect with jitter).
 * Turns options, an `amqp(s)://` URL or a host list into the ordered list of endpoints to try.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ChannelModel } from 'amqplib';
import { ConfigurationError } from '../../core/errors.ts';

export type ExchangeType = 'topic' | 'direct' | 'fanout' | 'headers';

export interface RabbitMQHost {
  host: string;
  port?: number;
}

export interface RabbitMQOptions {
  /** `amqp://user:pass@host:5672/vhost?heartbeat=10` or `amqps://…`. Fields given alongside win over the URL. */
  url?: string | URL;
  host?: string;
  port?: number;
  /** Cluster nodes, tried in order on every (re)connect. Entries are `host[:port]` or `{ host, port }`. */
  hosts?: Array<string | RabbitMQHost>;
  username?: string;
  password?: string;
  /** Default '/'. */
  virtualHost?: string;
  /** `true` (amqps with the system CAs) or Node TLS options (ca, cert, key, servername, rejectUnauthorized…). */
  tls?: boolean | TlsConnectionOptions;
  /** Alias of `tls` (seed name). */
  ssl?: boolean | TlsConnectionOptions;
  /** Heartbeat in seconds; default 10 so a dead peer is noticed within ~20 s. 0 disables. */
  heartbeat?: number;
  /** TCP connect + AMQP handshake timeout, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** An already open amqplib connection. contractbus does not own it: no reconnect, not closed on disconnect. */
  connection?: ChannelModel;

  /** Exchange every topic is published to. Default 'contractbus'. */
  exchangeName?: string;
  /** Default 'topic' (so `*` / `#` patterns work in subscribe). */
  exchangeType?: ExchangeType;

  /** Unacked deliveries per consumer channel when the subscription does not say. Default 10. */
  prefetch?: number;
  /** Publisher confirms. Default true: publish resolves only once RabbitMQ has taken responsibility. */
  confirm?: boolean;
  /**
   * Fail publishes that reach no queue. Default false, the pub/sub meaning of `publish`: a message
   * for a topic no group subscribes to has nobody to wait for it (RabbitMQ keeps messages only in
   * queues). It is still published with the AMQP mandatory flag, so RabbitMQ reports it and health
   * counts it (`unroutable`). true: such a publish rejects with `UnroutableError` (Rascal's default),
   * right for commands that must reach a consumer. Per publish: `publish(…, { mandatory })`.
   */
  mandatory?: boolean;
  /** Delivery mode 2 (written to disk by RabbitMQ). Default true. */
  persistent?: boolean;
  /** Confirm round-trip timeout when the publish does not say, ms. Default 10 000. */
  publishTimeoutMs?: number;

  autoReconnect?: boolean;
  /** First reconnect delay, ms. Default 1 000 (then ×2, full jitter, capped at `maxReconnectDelay`). */
  reconnectDelay?: number;
  maxReconnectDelay?: number;
  /** Default Infinity. */
  maxReconnectAttempts?: number;
  /** Publishes held while disconnected; past it publishes fail fast with `BufferFullError`. Default 1 000. */
  publishBufferSize?: number;
  /** Bytes of payload held while disconnected. Default 16 MiB. */
  publishBufferBytes?: number;

  /** Queue type of the durable group queues `subscribe` declares. Default 'classic'. */
  queueType?: 'classic' | 'quorum';
  /**
   * Extra arguments for the durable group queues `subscribe` declares, e.g. `{ 'x-max-length': 100000,
   * 'x-overflow': 'reject-publish' }`, or `{ 'x-expires': 3600000 }` for short-lived environments.
   * They must match on every client of the group (RabbitMQ refuses a re-declaration that differs).
   */
  groupQueueArguments?: Record<string, unknown>;
  /** Declares subscription queues with `x-max-priority` so `priority` is honoured. Classic queues only. */
  maxPriority?: number;
  /**
   * Lifetime of an idle private (no-group) subscription queue after its consumer is gone, ms.
   * Such queues survive reconnects but are removed by RabbitMQ once nobody consumes them. Default 15 min.
   */
  privateQueueExpiresMs?: number;

  /** Shared-layer defaults (seed names), passed through to subscriptions. */
  enableDlq?: boolean;
  dlqSuffix?: string;
  maxRetries?: number;
}

export interface Endpoint {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
}

export interface ResolvedOptions {
  endpoints: Endpoint[];
  username: string;
  password: string;
  virtualHost: string;
  tls: TlsConnectionOptions | undefined;
  heartbeat: number;
  connectTimeoutMs: number;
  frameMax: number | undefined;
  connection: ChannelModel | undefined;
  exchangeName: string;
  exchangeType: ExchangeType;
  prefetch: number;
  confirm: boolean;
  mandatory: boolean;
  persistent: boolean;
  publishTimeoutMs: number;
  autoReconnect: boolean;
  reconnectDelay: number;
  maxReconnectDelay: number;
  maxReconnectAttempts: number;
  publishBufferSize: number;
  publishBufferBytes: number;
  queueType: 'classic' | 'quorum';
  maxPriority: number | undefined;
  groupQueueArguments: Record<string, unknown>;
  privateQueueExpiresMs: number;
}

export const DEFAULTS = {
  exchangeName: 'contractbus',
  exchangeType: 'topic',
  prefetch: 10,
  heartbeat: 10,
  connectTimeoutMs: 10_000,
  publishTimeoutMs: 10_000,
  reconnectDelay: 1_000,
  maxReconnectDelay: 30_000,
  publishBufferSize: 1_000,
  privateQueueExpiresMs: 15 * 60_000,
} as const;

export function resolveOptions(input: RabbitMQOptions | string | URL = {}): ResolvedOptions {
  const options: RabbitMQOptions = typeof input === 'string' || input instanceof URL ? { url: input } : input;
  const url = options.url === undefined ? undefined : parseUrl(options.url);
  const tlsOption = options.tls ?? options.ssl;
  const secure = tlsOption === undefined ? url?.protocol === 'amqps:' : tlsOption !== false;
  const protocol = secure ? 'amqps' : 'amqp';
  const defaultPort = secure ? 5671 : 5672;

  const endpoints: Endpoint[] = [];
  if (options.hosts?.length) {
    for (const entry of options.hosts) endpoints.push(toEndpoint(entry, protocol, options.port ?? defaultPort));
  } else {
    const hostname = options.host ?? (url?.hostname ? url.hostname.replace(/^\[|\]$/g, '') : '127.0.0.1');
    const port = options.port ?? (url?.port ? Number(url.port) : defaultPort);
    endpoints.push({ protocol, hostname, port });
  }
  for (const endpoint of endpoints) {
    if (!Number.isInteger(endpoint.port) || endpoint.port <= 0 || endpoint.port > 65_535) {
      throw new ConfigurationError(`RabbitMQ port must be an integer in 1–65535, got ${String(endpoint.port)} for host ${endpoint.hostname}`, { broker: 'rabbitmq' });
    }
  }

  const query = url?.searchParams;
  const heartbeat = options.heartbeat ?? numberParam(query, 'heartbeat') ?? DEFAULTS.heartbeat;
  const vhostFromUrl = url && url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined;

  const resolved: ResolvedOptions = {
    endpoints,
    username: options.username ?? (url?.username ? decodeURIComponent(url.username) : 'guest'),
    password: options.password ?? (url?.password ? decodeURIComponent(url.password) : 'guest'),
    virtualHost: options.virtualHost ?? vhostFromUrl ?? '/',
    tls: secure ? (typeof tlsOption === 'object' ? tlsOption : {}) : undefined,
    heartbeat,
    connectTimeoutMs: options.connectTimeoutMs ?? numberParam(query, 'connection_timeout') ?? DEFAULTS.connectTimeoutMs,
    frameMax: numberParam(query, 'frameMax'),
    connection: options.connection,
    exchangeName: options.exchangeName ?? query?.get('exchange') ?? DEFAULTS.exchangeName,
    exchangeType: options.exchangeType ?? (query?.get('exchangeType') as ExchangeType | null) ?? DEFAULTS.exchangeType,
    prefetch: options.prefetch ?? numberParam(query, 'prefetch') ?? DEFAULTS.prefetch,
    confirm: options.confirm ?? true,
    mandatory: options.mandatory ?? false,
    persistent: options.persistent ?? true,
    publishTimeoutMs: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
    autoReconnect: options.autoReconnect ?? options.connection === undefined,
    reconnectDelay: options.reconnectDelay ?? DEFAULTS.reconnectDelay,
    maxReconnectDelay: options.maxReconnectDelay ?? DEFAULTS.maxReconnectDelay,
    maxReconnectAttempts: options.maxReconnectAttempts ?? Infinity,
    publishBufferSize: options.publishBufferSize ?? DEFAULTS.publishBufferSize,
    publishBufferBytes: options.publishBufferBytes ?? 16 * 1024 * 1024,
    queueType: options.queueType ?? 'classic',
    maxPriority: options.maxPriority,
    groupQueueArguments: { ...options.groupQueueArguments },
    privateQueueExpiresMs: options.privateQueueExpiresMs ?? DEFAULTS.privateQueueExpiresMs,
  };
  validate(resolved);
  return resolved;
}

function validate(o: ResolvedOptions): void {
  const fail = (message: string, hint?: string): never => {
    throw new ConfigurationError(message, hint === undefined ? { broker: 'rabbitmq' } : { broker: 'rabbitmq', hint });
  };
  if (!['topic', 'direct', 'fanout', 'headers'].includes(o.exchangeType)) {
    fail(`RabbitMQ exchangeType must be topic, direct, fanout or headers, got '${o.exchangeType}'`);
  }
  if (!Number.isInteger(o.prefetch) || o.prefetch < 1 || o.prefetch > 65_535) {
    fail(`RabbitMQ prefetch must be an integer in 1–65535, got ${String(o.prefetch)}`, 'Unbounded prefetch (0) is refused on purpose: it lets a flood of messages exhaust the process');
  }
  if (!Number.isFinite(o.heartbeat) || o.heartbeat < 0) fail(`RabbitMQ heartbeat must be seconds >= 0, got ${String(o.heartbeat)}`);
  for (const [name, value] of [['publishTimeoutMs', o.publishTimeoutMs], ['connectTimeoutMs', o.connectTimeoutMs], ['reconnectDelay', o.reconnectDelay], ['maxReconnectDelay', o.maxReconnectDelay]] as const) {
    if (!Number.isFinite(value) || value < 0) fail(`RabbitMQ ${name} must be a finite number of ms >= 0, got ${String(value)}`);
  }
  if (!(o.maxReconnectAttempts >= 0)) fail(`RabbitMQ maxReconnectAttempts must be >= 0, got ${String(o.maxReconnectAttempts)}`);
  if (!Number.isInteger(o.publishBufferSize) || o.publishBufferSize < 0) fail(`RabbitMQ publishBufferSize must be an integer >= 0, got ${String(o.publishBufferSize)}`);
  if (o.maxPriority !== undefined) {
    if (!Number.isInteger(o.maxPriority) || o.maxPriority < 1 || o.maxPriority > 255) fail(`RabbitMQ maxPriority must be an integer in 1–255, got ${String(o.maxPriority)}`, 'RabbitMQ recommends 1–10');
    if (o.queueType === 'quorum') fail('RabbitMQ maxPriority cannot be combined with queueType quorum', 'Quorum queues ignore x-max-priority in RabbitMQ 3.x; use classic queues for priority');
  }
  if (o.exchangeName === '') fail('RabbitMQ exchangeName must not be empty', "The default exchange '' cannot be bound to");
}

function parseUrl(value: string | URL): URL {
  let url: URL;
  try {
    url = value instanceof URL ? value : new URL(value);
  } catch (cause) {
    throw new ConfigurationError(`Invalid RabbitMQ URL '${redact(String(value))}'`, { broker: 'rabbitmq', cause, hint: 'Expected amqp://user:pass@host:5672/vhost' });
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new ConfigurationError(`RabbitMQ URL must start with amqp:// or amqps://, got '${url.protocol}//'`, { broker: 'rabbitmq' });
  }
  return url;
}

function toEndpoint(entry: string | RabbitMQHost, protocol: Endpoint['protocol'], defaultPort: number): Endpoint {
  if (typeof entry !== 'string') return { protocol, hostname: entry.host, port: entry.port ?? defaultPort };
  const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry.includes('://') ? new URL(entry).host : entry);
  if (!match?.[1]) throw new ConfigurationError(`Invalid RabbitMQ host '${entry}'`, { broker: 'rabbitmq', hint: 'Use host or host:port' });
  return { protocol, hostname: match[1], port: match[2] ? Number(match[2]) : defaultPort };
}

function numberParam(query: URLSearchParams | undefined, name: string): number | undefined {
  const raw = query?.get(name);
  if (raw === null || raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigurationError(`RabbitMQ URL parameter ${name} must be a number, got '${raw}'`, { broker: 'rabbitmq' });
  return value;
}

/** For error messages and health details: never print a password. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

export function describeEndpoint(e: Endpoint): string {
  return `${e.protocol}://${e.hostname.includes(':') ? `[${e.hostname}]` : e.hostname}:${e.port}`;
}
