/**
 * Publishes while the command connection is reconnecting wait here, in the shared
 * BoundedPublishBuffer (count and byte bounds, each until its own publish timeout), instead of
 * ioredis's unbounded offline queue (which we turn off). Past the bound, or when Redis is gone for
 * good (reconnect given up or off), a publish fails at once with an error naming Redis and the fix.
 */
import { BufferFullError, ConnectionError } from '../../core/errors.ts';
import type { TimeoutError } from '../../core/errors.ts';
import { BoundedPublishBuffer } from '../../reliability/publish-buffer.ts';
import type { RedisConnections } from './connection.ts';

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class PublishGate {
  readonly #connections: RedisConnections;
  readonly #buffer: BoundedPublishBuffer<Waiter>;
  #listening = false;

  constructor(connections: RedisConnections, options: { maxMessages: number; maxBytes: number }) {
    this.#connections = connections;
    this.#buffer = new BoundedPublishBuffer<Waiter>({
      maxMessages: options.maxMessages,
      maxBytes: options.maxBytes,
      broker: 'redis',
      onExpire: (waiter: Waiter, error: TimeoutError) => waiter.reject(error),
    });
  }

  get waiting(): number {
    return this.#buffer.size;
  }

  /** In [0, 1], for health (BrokerClient reports ≥ 0.9 as an issue). */
  get fill(): number {
    return this.#buffer.maxMessages === 0 ? 0 : this.#buffer.fill;
  }

  /** Resolves at once when Redis is writable, after reconnection when it is coming back; rejects otherwise. */
  whenWritable(topic: string, bytes: number, timeoutMs: number): Promise<void> {
    const status = this.#connections.status;
    if (status === 'ready') return Promise.resolve();
    if (!['connecting', 'connect', 'reconnecting'].includes(status) || this.#buffer.maxMessages === 0) {
      return Promise.reject(
        new ConnectionError(`Redis: publish to "${topic}" failed: ${this.#connections.endpoint} is not connected (${status})`, {
          broker: 'redis',
          topic,
          cause: this.#connections.lastError,
          hint: this.#buffer.maxMessages === 0 ? 'Check that Redis runs (redis-cli ping); the client reconnects by itself, retry later' : 'The client gave up reconnecting or was closed: call connect() again once Redis is back',
        }),
      );
    }
    this.#listen();
    return new Promise<void>((resolve, reject) => {
      try {
        this.#buffer.push({ resolve, reject }, bytes, { deadline: Date.now() + timeoutMs, topic });
      } catch (error) {
        reject(
          error instanceof BufferFullError
            ? new BufferFullError(`Redis: publish to "${topic}" refused: ${this.#connections.endpoint} is unreachable and ${this.#buffer.size} publishes (${this.#buffer.bytes} bytes) already wait for it`, {
                broker: 'redis',
                topic,
                cause: this.#connections.lastError,
                hint: 'Check that Redis runs (redis-cli ping); raise publishBufferSize / publishBufferBytes, or slow publishers down',
              })
            : (error as Error),
        );
      }
    });
  }

  /** Rejects everything still waiting (the client is closing). */
  close(): void {
    for (const waiter of this.#buffer.clear()) {
      waiter.reject(new ConnectionError('Redis: client closed while this publish waited for a reconnection', { broker: 'redis', hint: 'Nothing was sent' }));
    }
  }

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    const command = this.#connections.command;
    command.on('ready', () => {
      for (const waiter of this.#buffer.drain()) waiter.resolve();
    });
    command.on('end', () => {
      for (const waiter of this.#buffer.clear()) {
        waiter.reject(new ConnectionError(`Redis: ${this.#connections.endpoint} stayed unreachable and reconnecting stopped`, { broker: 'redis', hint: 'Check Redis, then connect() again' }));
      }
    });
  }
}
