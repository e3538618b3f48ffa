/**
 * RedisIdempotencyStore: SET NX PX claims shared by every replica, completion, release that never
 * undoes a completion, TTL expiry.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisIdempotencyStore } from '../../../runtime/bindings/redis/idempotency-store.ts';
import { REDIS_URL, unique, waitFor } from './support.ts';

describe('RedisIdempotencyStore', () => {
  const prefix = `${unique('idem')}:`;
  const replicaA = new RedisIdempotencyStore({ url: REDIS_URL, prefix });
  const replicaB = new RedisIdempotencyStore({ url: REDIS_URL, prefix });
  afterAll(async () => {
    await replicaA.close();
    await replicaB.close();
  });

  it('only one replica claims a key; others see it in progress, then done', async () => {
    const key = unique('k');
    const claims = await Promise.all([replicaA.tryClaim(key, 10_000), replicaB.tryClaim(key, 10_000), replicaA.tryClaim(key, 10_000)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await replicaB.stateOf(key)).toBe('in-progress');
    await replicaA.complete(key, 10_000);
    expect(await replicaB.stateOf(key)).toBe('done');
    expect(await replicaB.tryClaim(key, 10_000)).toBe(false);
  });

  it('release frees an in-progress claim for a redelivery, but never undoes a completion', async () => {
    const key = unique('k');
    expect(await replicaA.tryClaim(key, 10_000)).toBe(true);
    await replicaA.release(key);
    expect(await replicaB.tryClaim(key, 10_000)).toBe(true);
    await replicaB.complete(key, 10_000);
    await replicaA.release(key); // a late release from a failed attempt
    expect(await replicaA.stateOf(key)).toBe('done');
  });

  it('claims expire with their TTL (a crashed handler does not block the message forever)', async () => {
    const key = unique('k');
    expect(await replicaA.tryClaim(key, 50)).toBe(true);
    await waitFor(async () => (await replicaB.stateOf(key)) === undefined, 2000, 'claim expiry');
    expect(await replicaB.tryClaim(key, 10_000)).toBe(true);
  });

  it('works on an existing ioredis client, which it leaves open', async () => {
    const client = new Redis(REDIS_URL);
    const store = new RedisIdempotencyStore({ client, prefix });
    const key = unique('k');
    expect(await store.tryClaim(key, 1000)).toBe(true);
    await store.close();
    expect(await client.get(`${prefix}${key}`)).toBe('in-progress');
    await client.quit();
  });

  it('rejects a bad TTL with a clear error', async () => {
    await expect(replicaA.tryClaim('x', 0)).rejects.toThrow(/ttlMs must be a finite number/);
  });
});
