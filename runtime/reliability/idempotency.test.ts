import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../core/errors.ts';
import { MemoryIdempotencyStore } from './idempotency.ts';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('MemoryIdempotencyStore', () => {
  it('claims a key once; a completed key stays claimed; a released key can be claimed again', async () => {
    const store = new MemoryIdempotencyStore();
    expect(await store.tryClaim('m1', 1000)).toBe(true);
    expect(store.stateOf('m1')).toBe('in-progress');
    expect(await store.tryClaim('m1', 1000)).toBe(false);
    await store.complete('m1', 1000);
    expect(store.stateOf('m1')).toBe('done');
    expect(await store.tryClaim('m1', 1000)).toBe(false);

    expect(await store.tryClaim('m2', 1000)).toBe(true);
    await store.release('m2');
    expect(await store.tryClaim('m2', 1000)).toBe(true);
  });

  it('release() never undoes a completed key', async () => {
    const store = new MemoryIdempotencyStore();
    await store.tryClaim('m', 1000);
    await store.complete('m', 1000);
    await store.release('m');
    expect(store.stateOf('m')).toBe('done');
    expect(await store.tryClaim('m', 1000)).toBe(false);
    await store.release('never-claimed'); // harmless
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const store = new MemoryIdempotencyStore();
    const results = await Promise.all(Array.from({ length: 50 }, () => store.tryClaim('same', 1000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('expires in-progress claims (a crashed handler) and handled keys after their TTL', async () => {
    const time = clock();
    const store = new MemoryIdempotencyStore({ now: time.now });
    expect(await store.tryClaim('crashed', 100)).toBe(true);
    time.advance(99);
    expect(await store.tryClaim('crashed', 100)).toBe(false);
    time.advance(1);
    expect(await store.tryClaim('crashed', 100)).toBe(true);

    await store.complete('handled', 500);
    time.advance(499);
    expect(await store.tryClaim('handled', 100)).toBe(false);
    time.advance(1);
    expect(store.stateOf('handled')).toBeUndefined();
    expect(await store.tryClaim('handled', 100)).toBe(true);
  });

  it('evicts the least recently used key past maxEntries; a duplicate hit refreshes recency', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await store.complete(key, 10_000);
    expect(await store.tryClaim('a', 10_000)).toBe(false); // touches a: order is now b, c, a
    expect(await store.tryClaim('d', 10_000)).toBe(true); // evicts b
    expect(store.size).toBe(3);
    expect(store.stateOf('b')).toBeUndefined();
    expect(store.stateOf('a')).toBe('done');
    expect(await store.tryClaim('b', 10_000)).toBe(true); // forgotten, so claimable again (evicts c)
    expect(store.stateOf('c')).toBeUndefined();
  });

  it('stays bounded under a flood of distinct keys', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 1000 });
    for (let i = 0; i < 20_000; i++) await store.tryClaim(`k${i}`, 60_000);
    expect(store.size).toBe(1000);
    expect(store.stateOf('k19999')).toBe('in-progress');
    expect(store.stateOf('k0')).toBeUndefined();
  });

  it('sheds expired entries over time without a timer', async () => {
    const time = clock();
    const store = new MemoryIdempotencyStore({ now: time.now });
    for (let i = 0; i < 100; i++) await store.complete(`old${i}`, 10);
    time.advance(11);
    for (let i = 0; i < 30; i++) await store.tryClaim(`new${i}`, 10_000);
    expect(store.size).toBe(30);
  });

  it('uses the constructor ttlMs when a call passes none, and rejects bad options', async () => {
    const time = clock();
    const store = new MemoryIdempotencyStore({ ttlMs: 50, now: time.now });
    const claim = store.tryClaim as (key: string) => Promise<boolean>;
    expect(await claim.call(store, 'x')).toBe(true);
    time.advance(50);
    expect(await claim.call(store, 'x')).toBe(true);
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow(ConfigurationError);
    expect(() => new MemoryIdempotencyStore({ ttlMs: 0 })).toThrow(ConfigurationError);
    await expect(store.tryClaim('y', -1)).rejects.toThrow(ConfigurationError);
  });

  it('matches a naive reference model under random operations (seeded)', async () => {
    let seed = 2026;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const time = clock();
    const maxEntries = 8;
    const store = new MemoryIdempotencyStore({ maxEntries, now: time.now });
    // Reference: an array ordered least → most recently used, no cleverness.
    let model: Array<{ key: string; state: 'in-progress' | 'done'; expiresAt: number }> = [];
    const touch = (key: string, state: 'in-progress' | 'done', expiresAt: number): void => {
      model = model.filter((e) => e.key !== key);
      model.push({ key, state, expiresAt });
      while (model.length > maxEntries) model.shift();
    };
    for (let step = 0; step < 5000; step++) {
      const key = `k${Math.floor(random() * 12)}`;
      const ttl = 1 + Math.floor(random() * 50);
      const op = random();
      const now = time.now();
      if (op < 0.4) {
        // The store sweeps up to 4 expired entries from the LRU end first.
        for (let i = 0; i < 4 && model[0] && model[0].expiresAt <= now; i++) model.shift();
        const live = model.find((e) => e.key === key && e.expiresAt > now);
        if (live) touch(key, live.state, live.expiresAt);
        else touch(key, 'in-progress', now + ttl);
        expect(await store.tryClaim(key, ttl), `step ${step}`).toBe(!live);
      } else if (op < 0.65) {
        touch(key, 'done', now + ttl);
        await store.complete(key, ttl);
      } else if (op < 0.8) {
        if (model.find((e) => e.key === key)?.state === 'in-progress') model = model.filter((e) => e.key !== key);
        await store.release(key);
      } else {
        time.advance(Math.floor(random() * 20));
      }
      expect(store.size, `step ${step}`).toBe(model.length);
      for (let i = 0; i < 12; i++) {
        const e = model.find((m) => m.key === `k${i}`);
        expect(store.stateOf(`k${i}`), `step ${step} k${i}`).toBe(e && e.expiresAt > time.now() ? e.state : undefined);
      }
    }
  });
});
