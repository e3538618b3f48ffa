/**
 * Message time-to-live, for bindings without native TTL (`capabilities.nativeTtl === false`): the
 * publisher stamps an absolute expiry, the consumer drops what has passed it before the handler
 * runs. Absolute epoch ms (not "ttl + publish time" computed on the consumer) so clock skew
 * between publisher and consumer is the only error, not queueing time.
 */
import { ConfigurationError } from '../core/errors.ts';

/** true once `now` is past `expiresAt` (epoch ms); a message without expiry never expires. */
export function isExpired(expiresAt: number | undefined, now: number = Date.now()): boolean {
  return expiresAt !== undefined && now > expiresAt;
}

/** Absolute expiry (epoch ms) for a TTL in seconds; `undefined` passes through (no TTL). */
export function expiresAtFromTtl(ttlSeconds: number, now?: number): number;
export function expiresAtFromTtl(ttlSeconds: number | undefined, now?: number): number | undefined;
export function expiresAtFromTtl(ttlSeconds: number | undefined, now: number = Date.now()): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new ConfigurationError(`ttl must be a finite number of seconds > 0, got ${String(ttlSeconds)}`, {
      hint: 'Leave ttl out for messages that never expire',
    });
  }
  return now + Math.round(ttlSeconds * 1000);
}
