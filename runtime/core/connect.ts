/**
 * `connect(url)`: one line from a URL to a connected `MessageBroker`. The binding module is loaded
 * only when its scheme is used, so its client library stays an optional peer dependency.
 *
 *   memory://[hub]                         in-process (the default when nothing is given)
 *   redis://, rediss://                    Redis Pub/Sub (at-most-once)
 *   redis+streams://, rediss+streams://    Redis Streams with consumer groups (at-least-once)
 *   amqp://, amqps://                      RabbitMQ
 *   kafka://host1:9092,host2:9092          Kafka (several bootstrap brokers, comma-separated;
 *   kafkas://, kafka+ssl://                 TLS)
 *
 * Each binding module exports `fromUrl(url, options?): MessageBroker` (not yet connected); it gets
 * a `URL`, except Kafka, which gets the text as given because WHATWG `URL` cannot hold a host list
 * (`parseBrokerUrl` turns one into `kafka://a:9092?brokers=a:9092,b:9092` for other callers, read
 * back with `bootstrapServersFromUrl`).
 */
import type { BrokerClientOptions } from './client.ts';
import { ConfigurationError } from './errors.ts';
import type { MessageBroker } from './types.ts';

export const BROKER_URL_ENV = 'MESSAGE_BROKER_URL';

export interface ConnectOptions extends BrokerClientOptions {
  /** Broker URL; default `MESSAGE_BROKER_URL`, else `memory://`. */
  url?: string | URL;
  /** Binding-specific options passed to its `fromUrl` (e.g. `{ driver: 'platformatic' }` for Kafka). */
  [option: string]: unknown;
}

interface BindingModule {
  fromUrl(url: URL | string, options?: Record<string, unknown>): MessageBroker;
}

interface SchemeEntry {
  /** Subpath export users may also import directly. */
  subpath: string;
  /** What to install when the binding cannot load. */
  peer: string;
  load(): Promise<unknown>;
  /** The binding parses the URL text itself (Kafka host lists), so it gets the string as given. */
  rawUrl?: boolean;
}

// Literal import specifiers, so TypeScript rewrites them (.ts → .js) in the build.
const redis: SchemeEntry = { subpath: 'contractbus/redis', peer: 'ioredis', load: () => import('../bindings/redis/index.ts') };
const rabbitmq: SchemeEntry = { subpath: 'contractbus/rabbitmq', peer: 'amqplib', load: () => import('../bindings/rabbitmq/index.ts') };
const kafka: SchemeEntry = { subpath: 'contractbus/kafka', peer: 'kafkajs (or @platformatic/kafka)', load: () => import('../bindings/kafka/index.ts'), rawUrl: true };
const memory: SchemeEntry = { subpath: 'contractbus/memory', peer: '(none)', load: () => import('../bindings/memory/index.ts') };

export const SCHEMES: Readonly<Record<string, SchemeEntry>> = Object.freeze({
  'memory:': memory,
  'redis:': redis,
  'rediss:': redis,
  'redis+streams:': redis,
  'rediss+streams:': redis,
  'amqp:': rabbitmq,
  'amqps:': rabbitmq,
  'kafka:': kafka,
  'kafkas:': kafka,
  'kafka+ssl:': kafka,
});

/**
 * A connected broker. `connect()` reads `MESSAGE_BROKER_URL`, else uses `memory://`.
 * `connect('kafka://127.0.0.1:9092')`, `connect({ url, logger, publishTimeoutMs })`.
 */
export async function connect(urlOrOptions?: string | URL | ConnectOptions): Promise<MessageBroker> {
  const options: ConnectOptions = typeof urlOrOptions === 'string' || urlOrOptions instanceof URL ? { url: urlOrOptions } : { ...(urlOrOptions ?? {}) };
  const raw = options.url ?? process.env[BROKER_URL_ENV] ?? 'memory://';
  delete options.url;
  const broker = await brokerFromUrl(raw, options);
  await broker.connect();
  return broker;
}

/** The broker `MESSAGE_BROKER_URL` names (memory:// when unset), connected. */
export function brokerFromEnv(options: Omit<ConnectOptions, 'url'> = {}): Promise<MessageBroker> {
  return connect({ ...options, url: process.env[BROKER_URL_ENV] ?? 'memory://' });
}

/** Like `connect` but does not connect: for callers that wire things up first. */
export async function brokerFromUrl(url: string | URL, options: Record<string, unknown> = {}): Promise<MessageBroker> {
  const parsed = parseBrokerUrl(url);
  const entry = SCHEMES[parsed.protocol];
  if (!entry) {
    throw new ConfigurationError(`Unknown broker URL scheme "${parsed.protocol}" in ${redact(parsed)}`, {
      hint: `Use one of ${Object.keys(SCHEMES).map((s) => `${s}//`).join(', ')}`,
    });
  }
  let module: unknown;
  try {
    module = await entry.load();
  } catch (error) {
    throw new ConfigurationError(`Cannot load the ${entry.subpath} binding for ${redact(parsed)}`, {
      cause: error,
      hint: `Install its peer dependency: npm install ${entry.peer.split(' ')[0]} (${errorText(error)})`,
    });
  }
  const fromUrl = (module as Partial<BindingModule>).fromUrl;
  if (typeof fromUrl !== 'function') {
    throw new ConfigurationError(`The ${entry.subpath} binding does not export fromUrl(url)`, { hint: 'Upgrade contractbus, or construct the binding client directly' });
  }
  return fromUrl(entry.rawUrl === true && typeof url === 'string' ? url.trim() : parsed, options);
}

/** Parses a broker URL; comma-separated hosts (Kafka bootstrap lists) move into a `brokers` parameter. */
export function parseBrokerUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  const text = url.trim();
  const match = /^([a-z][a-z0-9+.-]*:)\/\/([^/?#]*)(.*)$/i.exec(text);
  if (match && match[2]?.includes(',')) {
    const [, scheme, authority = '', rest = ''] = match;
    const at = authority.lastIndexOf('@');
    const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
    const hosts = (at >= 0 ? authority.slice(at + 1) : authority).split(',').filter(Boolean);
    const parsed = parseOrThrow(`${scheme}//${userinfo}${hosts[0] ?? ''}${rest}`, text);
    parsed.searchParams.set('brokers', hosts.join(','));
    return parsed;
  }
  return parseOrThrow(text, text);
}

/** `host:port` list of a `kafka://` URL: the `brokers` parameter, else the URL's host (default port 9092). */
export function bootstrapServersFromUrl(url: URL, defaultPort = 9092): string[] {
  const list = url.searchParams.get('brokers');
  if (list) return list.split(',').map((h) => h.trim()).filter(Boolean).map((h) => (h.includes(':') ? h : `${h}:${defaultPort}`));
  if (!url.hostname) return [`127.0.0.1:${defaultPort}`];
  return [`${url.hostname}:${url.port || defaultPort}`];
}

function parseOrThrow(text: string, original: string): URL {
  try {
    return new URL(text);
  } catch (error) {
    throw new ConfigurationError(`Invalid broker URL "${redactText(original)}"`, { cause: error, hint: 'Expected e.g. redis://127.0.0.1:6379, amqp://guest:guest@127.0.0.1, kafka://127.0.0.1:9092 or memory://' });
  }
}

function redact(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

function redactText(text: string): string {
  return text.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? error.name : String(error);
}
