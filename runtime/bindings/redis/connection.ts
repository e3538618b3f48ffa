/**
 * The Redis connections of one client: one for commands (shared by publish, ack, claim, health)
 * and dedicated duplicates for work that blocks a connection (SUBSCRIBE, XREADGROUP BLOCK).
 * The only file besides the idempotency store that constructs ioredis objects.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { ConfigurationError, ConnectionError, PublishError, TimeoutError } from '../../core/errors.ts';
import type { ContractbusError } from '../../core/errors.ts';
import type { RedisConnection, ResolvedConnectionOptions } from './options.ts';
import { RoundTripWatchdog } from './watchdog.ts';

export class RedisConnections {
  readonly endpoint: string;
  readonly commandTimeoutMs: number;
  readonly #options: ResolvedConnectionOptions;
  #command: RedisConnection | undefined;
  readonly #ownsCommand: boolean;
  readonly #duplicates = new Set<RedisConnection>();
  #lastError: string | undefined;
  readonly #watchdog: RoundTripWatchdog;

  constructor(options: ResolvedConnectionOptions) {
    this.#options = options;
    this.endpoint = options.endpoint;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.#ownsCommand = options.client === undefined;
    this.#watchdog = new RoundTripWatchdog(options.commandTimeoutMs);
  }

  /** A round trip on the command connection, rejected with a timeout error after commandTimeoutMs. */
  timed<T>(work: Promise<T>): Promise<T> {
    return this.#watchdog.track(work);
  }

  get command(): RedisConnection {
    if (!this.#command) throw notConnected(this.endpoint);
    return this.#command;
  }

  get isOpen(): boolean {
    return this.#command?.status === 'ready';
  }

  get status(): string {
    return this.#command?.status ?? 'not connected';
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get openConnections(): number {
    return (this.#command ? 1 : 0) + this.#duplicates.size;
  }

  async open(): Promise<void> {
    if (this.#command) return;
    const command = this.#options.client ?? this.#create(this.#options.redisOptions);
    this.#command = command;
    this.#watch(command);
    await connectIfNeeded(command, this.endpoint);
  }

  /** A dedicated connection for blocking work; counted against `maxConnections`. */
  async duplicate(purpose: string, overrides: Partial<RedisOptions> = {}): Promise<RedisConnection> {
    if (this.openConnections >= this.#options.maxConnections) {
      throw new ConfigurationError(
        `Redis: ${purpose} needs one more connection to ${this.endpoint} but maxConnections (${this.#options.maxConnections}) are open`,
        { broker: 'redis', hint: 'Raise maxConnections or close subscriptions you no longer need' },
      );
    }
    const base = this.command;
    const settings: Partial<RedisOptions> = { lazyConnect: true, enableOfflineQueue: false, enableAutoPipelining: false, commandTimeout: this.commandTimeoutMs, connectionName: connectionNameFor(purpose), ...overrides };
    const connection =
      base instanceof Cluster
        ? base.duplicate(undefined, { lazyConnect: true, enableOfflineQueue: false, redisOptions: { ...base.options.redisOptions, ...settings } })
        : base.duplicate(settings);
    this.#duplicates.add(connection);
    this.#watch(connection);
    try {
      await connectIfNeeded(connection, this.endpoint);
    } catch (error) {
      this.#duplicates.delete(connection);
      connection.disconnect();
      throw error;
    }
    return connection;
  }

  async release(connection: RedisConnection): Promise<void> {
    if (!this.#duplicates.delete(connection)) return;
    await quit(connection);
  }

  /** Resolves once the command connection is ready again (at once if it is); rejects after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<void> {
    const command = this.#command;
    if (!command) return Promise.reject(notConnected(this.endpoint));
    if (command.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        command.off('ready', onReady);
        reject(new ConnectionError(`Redis: ${this.endpoint} not back within ${timeoutMs} ms`, { broker: 'redis' }));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      command.once('ready', onReady);
    });
  }

  /** Round-trip latency in ms, or the error that prevented it. */
  async ping(): Promise<{ latencyMs: number } | { error: string }> {
    if (!this.#command) return { error: 'not connected' };
    const started = performance.now();
    try {
      await this.timed(this.#command.ping());
      return { latencyMs: Math.round((performance.now() - started) * 1000) / 1000 };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    this.#watchdog.stop();
    const duplicates = [...this.#duplicates];
    this.#duplicates.clear();
    await Promise.all(duplicates.map(quit));
    const command = this.#command;
    this.#command = undefined;
    if (command && this.#ownsCommand) await quit(command);
  }

  #create(options: RedisOptions): RedisConnection {
    const cluster = this.#options.cluster;
    if (cluster) {
      return new Cluster(cluster.nodes, {
        lazyConnect: true,
        enableOfflineQueue: false,
        ...cluster.options,
        redisOptions: { ...options, ...cluster.options?.redisOptions },
      });
    }
    return new Redis(options);
  }

  #watch(connection: RedisConnection): void {
    // Without a listener ioredis prints every reconnect error; we keep the last one for health().
    connection.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    connection.on('ready', () => {
      this.#lastError = undefined;
    });
  }
}

/** CLIENT SETNAME refuses spaces and odd characters, and would fail the whole connection. */
export function connectionNameFor(purpose: string): string {
  return `contractbus:${purpose}`.replace(/[^\w.:@/-]/g, '_').slice(0, 200);
}

async function connectIfNeeded(connection: RedisConnection, endpoint: string): Promise<void> {
  if (connection.status === 'ready') return;
  if (connection.status === 'wait' || connection.status === 'end' || connection.status === 'close') {
    // connect() often rejects with a bare "Connection is closed"; the 'error' event has the real cause (TLS, auth, DNS).
    let lastEvent: Error | undefined;
    const onError = (error: Error): void => {
      lastEvent = error;
    };
    connection.on('error', onError);
    try {
      await connection.connect();
    } catch (rejection) {
      const cause = lastEvent ?? rejection;
      throw new ConnectionError(`Redis: cannot connect to ${endpoint}: ${messageOf(cause).replace(/\.$/, '')}`, {
        broker: 'redis',
        cause,
        hint: 'Check that Redis runs and is reachable (redis-cli -h <host> -p <port> ping), and the URL, password and TLS settings',
      });
    } finally {
      connection.off('error', onError);
    }
    return;
  }
  // Connecting or reconnecting already (a caller's client): wait for ready.
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      connection.off('end', onEnd);
      resolve();
    };
    const onEnd = (): void => {
      connection.off('ready', onReady);
      reject(new ConnectionError(`Redis: connection to ${endpoint} ended before it was ready`, { broker: 'redis' }));
    };
    connection.once('ready', onReady);
    connection.once('end', onEnd);
  });
}

async function quit(connection: RedisConnection): Promise<void> {
  if (connection.status === 'end') return;
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}

function notConnected(endpoint: string): ConnectionError {
  return new ConnectionError(`Redis: client for ${endpoint} is not connected`, { broker: 'redis', hint: 'Call connect() first' });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Classifies an ioredis failure as a typed contractbus error that names Redis, the topic and what to do. */
export function redisError(error: unknown, action: string, topic: string | undefined, endpoint: string): ContractbusError {
  const message = messageOf(error);
  const where = topic === undefined ? '' : ` "${topic}"`;
  if (/timed out/i.test(message)) {
    return new TimeoutError(`Redis: ${action}${where} got no reply from ${endpoint} in time`, {
      broker: 'redis',
      topic,
      cause: error,
      hint: 'Redis may be overloaded or unreachable; raise commandTimeoutMs if replies are merely slow',
    });
  }
  if (/enableOfflineQueue|Connection is closed|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|EPIPE|not connected|Stream isn't writeable/i.test(message)) {
    return new ConnectionError(`Redis: ${action}${where} failed: ${endpoint} is not reachable right now (${message})`, {
      broker: 'redis',
      topic,
      cause: error,
      hint: 'Nothing was sent. Check that Redis runs (redis-cli ping); the client reconnects by itself, so retry the publish later',
    });
  }
  return new PublishError(`Redis: ${action}${where} failed: ${message}`, { broker: 'redis', topic, cause: error });
}
