/**
 * Options of the Kafka binding and how a `kafka://host1:9092,host2:9092?…` URL becomes them.
 * Names follow the seed (bootstrapServers, securityProtocol, saslMechanism, sslCafile, …); every
 * number has a safe default and every round trip a timeout.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigurationError } from '../../core/errors.ts';
import type { KafkaDriver } from './driver.ts';

export type KafkaDriverName = 'kafkajs' | 'platformatic';
export type KafkaSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaTopicConfig {
  partitions?: number;
  replicationFactor?: number;
}

export interface KafkaConnectionOptions {
  /** `kafka://[user:pass@]host1:9092,host2:9092[?driver=…&clientId=…&groupId=…]`; `kafkas://` means SSL. Explicit options win. */
  url?: string | URL;
  /** 'host:port' list (array or comma-separated). Default `127.0.0.1:9092`. */
  bootstrapServers?: string | string[];
  /** Seed aliases for a single broker. */
  host?: string;
  port?: number;
  /** Default `contractbus`. */
  clientId?: string;
  /** Default group of `consume()` when it names none. */
  groupId?: string;
  /** Default PLAINTEXT (SASL_PLAINTEXT when a SASL user is given). */
  securityProtocol?: KafkaSecurityProtocol;
  /** Default PLAIN. */
  saslMechanism?: KafkaSaslMechanism;
  saslUsername?: string;
  saslPassword?: string;
  /** PEM file paths, read once at construction. */
  sslCafile?: string;
  sslCertfile?: string;
  sslKeyfile?: string;
  /** Node TLS options merged over the files above (ca, cert, key as strings/Buffers, servername, …). */
  tls?: TlsConnectionOptions;
  /** Seed alias: true turns SSL on; an object is taken as `tls`. */
  ssl?: boolean | TlsConnectionOptions;
  /**
   * Which client library speaks to Kafka: 'kafkajs' or 'platformatic' (@platformatic/kafka), or
   * your own `KafkaDriver`. Default: see DEFAULT_DRIVER.
   */
  driver?: KafkaDriverName | KafkaDriver;
  /**
   * An existing client: a kafkajs `Kafka` instance (driver 'kafkajs'; producer, consumers and admin
   * are created from it), or a @platformatic/kafka `Producer` (driver 'platformatic'; used for
   * publishing, with Buffer serialisers — the default; consumers and admin use the options here).
   */
  client?: object;
  /** Default -1 (all in-sync replicas). */
  acks?: -1 | 0 | 1;
  /** Idempotent producer (no duplicates from producer retries, order kept). Default true; needs acks -1. */
  idempotent?: boolean;
  /** Timeout of one broker round trip. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Default 10 000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Publishes waiting for a broker acknowledgement at once. The client libraries queue and retry
   * sends while brokers are unreachable; past this bound a publish fails at once with
   * BufferFullError instead of piling up in memory. Default 10 000.
   */
  maxPendingPublishes?: number;
  /** Create missing topics (and dead-letter topics) before producing or consuming. Default true. */
  autoCreateTopics?: boolean;
  /**
   * Publishes to one topic made in the same event-loop tick go out as one produce request (at most
   * 500 records / 512 KiB), instead of one request each; one request per topic is in flight at a
   * time, and publishes made meanwhile go out together after it. Each record keeps its own key, headers,
   * receipt (exact partition and offset) and outcome; order per key holds. Records are placed by
   * Java's partitioner (keyed) or stuck to one partition per request (keyless), from the topic's
   * partition count, re-read every minute. Default true; false sends one request per publish.
   */
  batchPublishes?: boolean;
  /** Partitions and replication per topic for topics this client creates. */
  topicConfig?: Record<string, KafkaTopicConfig>;
  /** For topics not in `topicConfig`. Default 1 partition, replication factor 1. */
  defaultPartitions?: number;
  defaultReplicationFactor?: number;
}

export interface KafkaConsumerDefaults {
  /** Default 30 000 ms: a consumer silent that long loses its partitions. */
  sessionTimeoutMs?: number;
  /** Default 3 000 ms. */
  heartbeatIntervalMs?: number;
  /** Default 60 000 ms. */
  rebalanceTimeoutMs?: number;
  /**
   * Records handed to one partition worker at a time (@platformatic/kafka driver; also bounds its
   * buffer at twice this). kafkajs batches are bounded by bytes (1 MiB per partition). Default 500.
   */
  maxPollRecords?: number;
  /** How often handled offsets are committed while a batch is still running. Default 100 ms. */
  commitIntervalMs?: number;
  /**
   * `nack({ requeue: true })` redelivers in process, in order (Kafka cannot redeliver one record):
   * past this many redeliveries of one record it goes to the dead-letter topic so the partition
   * moves on. Default 5.
   */
  maxRedeliveries?: number;
  /** Upper bound of one in-process redelivery delay. Default 30 000 ms. */
  maxRedeliveryDelayMs?: number;
}

export interface KafkaSharedOptions {
  /** Dead-letter failed messages. Default true. */
  enableDlq?: boolean;
  /** Default `.dlq`. */
  dlqSuffix?: string;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
}

export interface KafkaOptions extends KafkaConnectionOptions, KafkaConsumerDefaults, KafkaSharedOptions {}

/** Chosen by bench/kafka.ts and the conformance runs (README.md, "Drivers"). */
export const DEFAULT_DRIVER: KafkaDriverName = 'platformatic';

export interface ResolvedKafkaOptions {
  /** The driver was not chosen by the user: fall back to the other one when its package is missing. */
  driverIsDefault: boolean;
  brokers: string[];
  clientId: string;
  groupId: string | undefined;
  securityProtocol: KafkaSecurityProtocol;
  sasl: { mechanism: KafkaSaslMechanism; username: string; password: string } | undefined;
  tls: TlsConnectionOptions | undefined;
  driver: KafkaDriverName | KafkaDriver;
  client: object | undefined;
  acks: -1 | 0 | 1;
  idempotent: boolean;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  maxPendingPublishes: number;
  autoCreateTopics: boolean;
  batchPublishes: boolean;
  topicConfig: Record<string, KafkaTopicConfig>;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxPollRecords: number;
  commitIntervalMs: number;
  maxRedeliveries: number;
  maxRedeliveryDelayMs: number;
  enableDlq: boolean;
  dlqSuffix: string;
}

const PROTOCOLS: readonly KafkaSecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const MECHANISMS: readonly KafkaSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/**
 * WHATWG URL cannot parse a host list (`kafka://a:9092,b:9092` is an invalid port), so the
 * authority is split by hand; the query is read with URLSearchParams.
 */
export function parseKafkaUrl(input: string | URL): KafkaOptions {
  const text = String(input);
  const match = /^(kafkas?|kafka\+ssl):\/\/(?:([^@/?#]*)@)?([^/?#]*)[^?#]*(?:\?([^#]*))?/i.exec(text);
  if (!match) {
    throw new ConfigurationError(`Kafka: "${redact(text)}" is not a kafka:// URL`, { broker: 'kafka', hint: 'Use kafka://host1:9092,host2:9092?clientId=app' });
  }
  const [, scheme = 'kafka', userinfo, hosts = '', query = ''] = match;
  const out: KafkaOptions = {};
  const servers = hosts.split(',').map((h) => h.trim()).filter(Boolean).map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
  if (servers.length > 0) out.bootstrapServers = servers;
  const ssl = scheme.toLowerCase() !== 'kafka';
  if (userinfo) {
    const [user = '', pass = ''] = userinfo.split(':');
    out.saslUsername = decodeURIComponent(user);
    out.saslPassword = decodeURIComponent(pass);
    out.securityProtocol = ssl ? 'SASL_SSL' : 'SASL_PLAINTEXT';
  } else if (ssl) out.securityProtocol = 'SSL';
  const params = new URLSearchParams(query);
  const str = (name: string): string | undefined => params.get(name) ?? undefined;
  // connect() hands a parsed URL with the host list moved into `brokers` (core/connect.ts).
  const brokersParam = params.get('brokers');
  if (brokersParam) out.bootstrapServers = brokersParam.split(',').map((h) => h.trim()).filter(Boolean).map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
  const num = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new ConfigurationError(`Kafka URL parameter ${name} must be a number, got "${value}"`, { broker: 'kafka' });
    return n;
  };
  const bool = (name: string): boolean | undefined => {
    const value = params.get(name);
    return value === null ? undefined : value === 'true' || value === '1';
  };
  assign(out, 'driver', str('driver') as KafkaDriverName | undefined);
  assign(out, 'clientId', str('clientId'));
  assign(out, 'groupId', str('groupId'));
  assign(out, 'securityProtocol', str('securityProtocol') as KafkaSecurityProtocol | undefined);
  assign(out, 'saslMechanism', str('saslMechanism') as KafkaSaslMechanism | undefined);
  assign(out, 'sslCafile', str('sslCafile'));
  assign(out, 'sslCertfile', str('sslCertfile'));
  assign(out, 'sslKeyfile', str('sslKeyfile'));
  assign(out, 'requestTimeoutMs', num('requestTimeoutMs'));
  assign(out, 'connectionTimeoutMs', num('connectionTimeoutMs'));
  assign(out, 'sessionTimeoutMs', num('sessionTimeoutMs'));
  assign(out, 'maxPollRecords', num('maxPollRecords'));
  assign(out, 'defaultPartitions', num('partitions'));
  assign(out, 'defaultReplicationFactor', num('replicationFactor'));
  assign(out, 'maxRetries', num('maxRetries'));
  assign(out, 'dlqSuffix', str('dlqSuffix'));
  assign(out, 'enableDlq', bool('enableDlq'));
  assign(out, 'idempotent', bool('idempotent'));
  assign(out, 'autoCreateTopics', bool('autoCreateTopics'));
  assign(out, 'batchPublishes', bool('batchPublishes'));
  const acks = str('acks');
  if (acks !== undefined) out.acks = acks === 'all' ? -1 : (Number(acks) as -1 | 0 | 1);
  return out;
}

export function resolveKafkaOptions(options: KafkaOptions = {}): ResolvedKafkaOptions {
  const fromUrl = options.url === undefined ? {} : parseKafkaUrl(options.url);
  const o: KafkaOptions = { ...fromUrl, ...stripUndefined(options) };
  let brokers: string[];
  if (o.bootstrapServers !== undefined) {
    brokers = (Array.isArray(o.bootstrapServers) ? o.bootstrapServers : o.bootstrapServers.split(',')).map((s) => s.trim()).filter(Boolean);
  } else if (o.host !== undefined || o.port !== undefined) {
    brokers = [`${o.host ?? '127.0.0.1'}:${o.port ?? 9092}`];
  } else {
    brokers = ['127.0.0.1:9092'];
  }
  if (brokers.length === 0) throw new ConfigurationError('Kafka: bootstrapServers is empty', { broker: 'kafka', hint: 'Give at least one host:port' });

  const securityProtocol: KafkaSecurityProtocol =
    o.securityProtocol ?? (o.saslUsername !== undefined ? (o.ssl || o.tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : o.ssl || o.tls || o.sslCafile ? 'SSL' : 'PLAINTEXT');
  if (!PROTOCOLS.includes(securityProtocol)) {
    throw new ConfigurationError(`Kafka: securityProtocol must be one of ${PROTOCOLS.join(', ')}, got "${String(securityProtocol)}"`, { broker: 'kafka' });
  }
  const usesSasl = securityProtocol.startsWith('SASL_');
  const usesTls = securityProtocol === 'SSL' || securityProtocol === 'SASL_SSL';
  let sasl: ResolvedKafkaOptions['sasl'];
  if (usesSasl) {
    const mechanism = o.saslMechanism ?? 'PLAIN';
    if (!MECHANISMS.includes(mechanism)) {
      throw new ConfigurationError(`Kafka: saslMechanism must be one of ${MECHANISMS.join(', ')}, got "${String(mechanism)}"`, { broker: 'kafka' });
    }
    if (o.saslUsername === undefined || o.saslPassword === undefined) {
      throw new ConfigurationError(`Kafka: securityProtocol ${securityProtocol} needs saslUsername and saslPassword`, { broker: 'kafka', hint: 'Pass them as options or as user:password@ in the kafka:// URL' });
    }
    sasl = { mechanism, username: o.saslUsername, password: o.saslPassword };
  }
  let tls: TlsConnectionOptions | undefined;
  if (usesTls) {
    tls = {};
    if (o.sslCafile) tls.ca = readPem(o.sslCafile, 'sslCafile');
    if (o.sslCertfile) tls.cert = readPem(o.sslCertfile, 'sslCertfile');
    if (o.sslKeyfile) tls.key = readPem(o.sslKeyfile, 'sslKeyfile');
    if (typeof o.ssl === 'object') Object.assign(tls, o.ssl);
    if (o.tls) Object.assign(tls, o.tls);
  }
  const driver = o.driver ?? (o.client !== undefined ? driverOfClient(o.client) : DEFAULT_DRIVER);
  if (o.client !== undefined && typeof driver === 'string' && driverOfClient(o.client) !== driver) {
    throw new ConfigurationError(`Kafka: the client instance given does not belong to driver '${driver}'`, { broker: 'kafka', hint: 'Pass a kafkajs Kafka with driver kafkajs, or a @platformatic/kafka Producer with driver platformatic' });
  }
  if (typeof driver === 'string' && driver !== 'kafkajs' && driver !== 'platformatic') {
    throw new ConfigurationError(`Kafka: driver must be 'kafkajs' or 'platformatic', got "${driver}"`, { broker: 'kafka' });
  }
  const acks = o.acks ?? -1;
  const idempotent = o.idempotent ?? acks === -1;
  if (idempotent && acks !== -1) {
    throw new ConfigurationError('Kafka: an idempotent producer needs acks -1 (all)', { broker: 'kafka', hint: 'Set idempotent: false to use acks 0 or 1' });
  }
  return {
    driverIsDefault: o.driver === undefined && o.client === undefined,
    brokers,
    clientId: o.clientId ?? 'contractbus',
    groupId: o.groupId,
    securityProtocol,
    sasl,
    tls,
    driver,
    client: o.client,
    acks,
    idempotent,
    requestTimeoutMs: positive(o.requestTimeoutMs, 30_000, 'requestTimeoutMs'),
    connectionTimeoutMs: positive(o.connectionTimeoutMs, 10_000, 'connectionTimeoutMs'),
    maxPendingPublishes: positive(o.maxPendingPublishes, 10_000, 'maxPendingPublishes'),
    autoCreateTopics: o.autoCreateTopics ?? true,
    batchPublishes: o.batchPublishes ?? true,
    topicConfig: o.topicConfig ?? {},
    defaultPartitions: positive(o.defaultPartitions, 1, 'defaultPartitions'),
    defaultReplicationFactor: positive(o.defaultReplicationFactor, 1, 'defaultReplicationFactor'),
    sessionTimeoutMs: positive(o.sessionTimeoutMs, 30_000, 'sessionTimeoutMs'),
    heartbeatIntervalMs: positive(o.heartbeatIntervalMs, 3_000, 'heartbeatIntervalMs'),
    rebalanceTimeoutMs: positive(o.rebalanceTimeoutMs, 60_000, 'rebalanceTimeoutMs'),
    maxPollRecords: positive(o.maxPollRecords, 500, 'maxPollRecords'),
    commitIntervalMs: positive(o.commitIntervalMs, 100, 'commitIntervalMs'),
    maxRedeliveries: nonNegative(o.maxRedeliveries, 5, 'maxRedeliveries'),
    maxRedeliveryDelayMs: nonNegative(o.maxRedeliveryDelayMs, 30_000, 'maxRedeliveryDelayMs'),
    enableDlq: o.enableDlq ?? true,
    dlqSuffix: o.dlqSuffix ?? '.dlq',
  };
}

function driverOfClient(client: object): KafkaDriverName {
  const c = client as Record<string, unknown>;
  if (typeof c['producer'] === 'function' && typeof c['consumer'] === 'function' && typeof c['admin'] === 'function') return 'kafkajs';
  if (typeof c['send'] === 'function' && typeof c['initIdempotentProducer'] === 'function') return 'platformatic';
  throw new ConfigurationError('Kafka: `client` is neither a kafkajs Kafka instance nor a @platformatic/kafka Producer', { broker: 'kafka' });
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function readPem(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Kafka: cannot read ${option} "${path}"`, { broker: 'kafka', cause: error, hint: 'Check the path and its permissions' });
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new ConfigurationError(`Kafka: ${name} must be a number > 0, got ${String(value)}`, { broker: 'kafka' });
  return value;
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new ConfigurationError(`Kafka: ${name} must be a number >= 0, got ${String(value)}`, { broker: 'kafka' });
  return value;
}

function assign<K extends keyof KafkaOptions>(target: KafkaOptions, key: K, value: KafkaOptions[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
