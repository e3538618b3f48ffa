/**
 * IdempotencyStore shared by every replica of a service: `SET key in-progress NX PX ttl` claims,
 * `SET key done PX ttl` completes, `DEL` (only of our own in-progress claim) releases.
 */
import { Redis } from 'ioredis';
import type { IdempotencyStore } from '../../reliability/idempotency.ts';
import { ConfigurationError } from '../../core/errors.ts';
import { redisError } from './connection.ts';
import type { RedisConnection, RedisConnectionOptions } from './options.ts';
import { resolveConnectionOptions } from './options.ts';

export interface RedisIdempotencyStoreOptions extends RedisConnectionOptions {
  /** Key prefix. Default `contractbus:idem:`. */
  prefix?: string;
  /** TTL used when a call passes none. Default 24 h. */
  ttlMs?: number;
}

/** Deletes the key only while it still holds the in-progress marker: a late release never undoes a `done`. */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const IN_PROGRESS = 'in-progress';

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly prefix: string;
  readonly defaultTtlMs: number;
  readonly #connection: RedisConnection;
  readonly #owned: boolean;
  readonly #endpoint: string;

  constructor(options: RedisIdempotencyStoreOptions = {}) {
    this.prefix = options.prefix ?? 'contractbus:idem:';
    this.defaultTtlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    const resolved = resolveConnectionOptions(options);
    this.#endpoint = resolved.endpoint;
    if (resolved.client) {
      this.#connection = resolved.client;
      this.#owned = false;
    } else {
      if (resolved.cluster) {
        throw new ConfigurationError('RedisIdempotencyStore: pass an existing Cluster as `client` to use a Redis Cluster', { broker: 'redis' });
      }
      // Commands issued before the connection is ready wait for it rather than failing the first message.
      this.#connection = new Redis({ ...resolved.redisOptions, commandTimeout: resolved.commandTimeoutMs, lazyConnect: false, enableOfflineQueue: true, connectionName: 'contractbus:idempotency' });
      this.#connection.on('error', () => undefined);
      this.#owned = true;
    }
  }

  async tryClaim(key: string, ttlMs: number = this.defaultTtlMs): Promise<boolean> {
    validateTtl(ttlMs);
    try {
      const reply = await this.#connection.set(this.prefix + key, IN_PROGRESS, 'PX', ttlMs, 'NX');
      return reply === 'OK';
    } catch (error) {
      throw redisError(error, 'idempotency SET NX for key', key, this.#endpoint);
    }
  }

  async complete(key: string, ttlMs: number = this.defaultTtlMs): Promise<void> {
    validateTtl(ttlMs);
    try {
      await this.#connection.set(this.prefix + key, 'done', 'PX', ttlMs);
    } catch (error) {
      throw redisError(error, 'idempotency SET for key', key, this.#endpoint);
    }
  }

  async release(key: string): Promise<void> {
    try {
      await this.#connection.eval(RELEASE_SCRIPT, 1, this.prefix + key, IN_PROGRESS);
    } catch (error) {
      throw redisError(error, 'idempotency release of key', key, this.#endpoint);
    }
  }

  /** For tests and diagnostics. */
  async stateOf(key: string): Promise<'in-progress' | 'done' | undefined> {
    const value = await this.#connection.get(this.prefix + key);
    return value === IN_PROGRESS || value === 'done' ? value : undefined;
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    try {
      await this.#connection.quit();
    } catch {
      this.#connection.disconnect();
    }
  }
}

function validateTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ConfigurationError(`RedisIdempotencyStore: ttlMs must be a finite number of ms > 0, got ${String(ttlMs)}`, { broker: 'redis' });
  }
}
