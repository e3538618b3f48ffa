import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../core/errors.ts';
import { KeyedConcurrencyLimiter } from './concurrency.ts';

/** Mulberry32: small seeded PRNG so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedConcurrencyLimiter', () => {
  it('rejects a limit below 1', () => {
    expect(() => new KeyedConcurrencyLimiter(0)).toThrow(ConfigurationError);
    expect(() => new KeyedConcurrencyLimiter(1.5)).toThrow(ConfigurationError);
  });

  it('runs up to the limit at once and queues the rest', async () => {
    const limiter = new KeyedConcurrencyLimiter(2);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const results = gates.map((gate, i) =>
      limiter.run(undefined, async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 1]);
    gates[1]?.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.resolve();
    gates[2]?.resolve();
    await expect(Promise.all(results)).resolves.toEqual([0, 1, 2]);
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });

  it('runs one task per key at a time, in arrival order, without blocking other keys', async () => {
    const limiter = new KeyedConcurrencyLimiter(4);
    const a1 = deferred();
    const log: string[] = [];
    const tasks = [
      limiter.run('A', async () => {
        log.push('A1');
        await a1.promise;
      }),
      limiter.run('A', async () => {
        log.push('A2');
      }),
      limiter.run('B', async () => {
        log.push('B1');
      }),
      limiter.run(undefined, async () => {
        log.push('free');
      }),
    ];
    await flush();
    // A2 waits behind A1, but B1 and the keyless task go ahead.
    expect(log).toEqual(['A1', 'B1', 'free']);
    expect(limiter.queued).toBe(1);
    a1.resolve();
    await Promise.all(tasks);
    expect(log).toEqual(['A1', 'B1', 'free', 'A2']);
  });

  it('a busy key does not starve other keys: its next task queues behind tasks already waiting', async () => {
    const limiter = new KeyedConcurrencyLimiter(1);
    const log: string[] = [];
    const task = (name: string) => async (): Promise<void> => {
      log.push(name);
    };
    await Promise.all([limiter.run('A', task('A1')), limiter.run('A', task('A2')), limiter.run('A', task('A3')), limiter.run('B', task('B1'))]);
    expect(log).toEqual(['A1', 'B1', 'A2', 'A3']);
  });

  it('passes results and errors through, and a failure (even a synchronous throw) frees the slot and the key', async () => {
    const limiter = new KeyedConcurrencyLimiter(1);
    await expect(limiter.run('k', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(limiter.run('k', (() => { throw new Error('sync'); }) as () => Promise<void>)).rejects.toThrow('sync');
    await expect(limiter.run('k', async () => 7)).resolves.toBe(7);
    expect([limiter.inFlight, limiter.queued, limiter.activeKeys]).toEqual([0, 0, 0]);
  });

  it('idle() resolves at once when idle, and when the last queued task finishes', async () => {
    const limiter = new KeyedConcurrencyLimiter(1);
    await limiter.idle();
    const gate = deferred();
    let done = 0;
    void limiter.run('x', async () => {
      await gate.promise;
      done++;
    });
    void limiter.run('x', async () => {
      done++;
    });
    let idle = false;
    const idlePromise = limiter.idle().then(() => {
      idle = true;
    });
    await flush();
    expect(idle).toBe(false);
    gate.resolve();
    await idlePromise;
    expect(done).toBe(2);
  });

  it('never exceeds the limit and keeps per-key order under random load (seeded)', async () => {
    for (const seed of [1, 7, 42, 1234, 99_999]) {
      const random = prng(seed);
      const limit = 1 + Math.floor(random() * 5);
      const limiter = new KeyedConcurrencyLimiter(limit);
      const keys = ['a', 'b', 'c', 'd', undefined];
      const running = new Map<number, { key: string | undefined; gate: ReturnType<typeof deferred<void>> }>();
      const runningKeys = new Map<string, number>();
      const arrival = new Map<string, number[]>();
      const startOrder = new Map<string, number[]>();
      const all: Array<Promise<unknown>> = [];
      let maxSeen = 0;
      let nextId = 0;

      const check = (): void => {
        expect(limiter.inFlight).toBe(running.size);
        expect(limiter.inFlight).toBeLessThanOrEqual(limit);
        // Work-conserving: a free slot means every waiting task is blocked by its own key.
        if (limiter.inFlight < limit) {
          const blocked = [...arrival.entries()].reduce((n, [key, ids]) => n + ids.length - (startOrder.get(key)?.length ?? 0), 0);
          expect(limiter.queued).toBe(blocked);
          for (const [key, ids] of arrival) {
            if (ids.length > (startOrder.get(key)?.length ?? 0)) expect(runningKeys.get(key)).toBe(1);
          }
        }
      };

      for (let step = 0; step < 400; step++) {
        if (running.size > 0 && random() < 0.45) {
          const ids = [...running.keys()];
          const id = ids[Math.floor(random() * ids.length)] as number;
          const entry = running.get(id);
          running.delete(id);
          if (entry?.key !== undefined) runningKeys.set(entry.key, (runningKeys.get(entry.key) ?? 1) - 1);
          if (random() < 0.2) entry?.gate.reject(new Error('handler failed'));
          else entry?.gate.resolve();
        } else {
          const key = keys[Math.floor(random() * keys.length)];
          const id = nextId++;
          if (key !== undefined) arrival.set(key, [...(arrival.get(key) ?? []), id]);
          all.push(
            limiter
              .run(key, async () => {
                if (key !== undefined) {
                  startOrder.set(key, [...(startOrder.get(key) ?? []), id]);
                  runningKeys.set(key, (runningKeys.get(key) ?? 0) + 1);
                  expect(runningKeys.get(key)).toBe(1); // one per key
                }
                const gate = deferred<void>();
                running.set(id, { key, gate });
                maxSeen = Math.max(maxSeen, running.size);
                await gate.promise;
              })
              .catch(() => undefined),
          );
        }
        await flush();
        check();
      }
      // Finish everything still running or queued.
      while (running.size > 0 || limiter.queued > 0) {
        for (const [id, entry] of running) {
          running.delete(id);
          if (entry.key !== undefined) runningKeys.set(entry.key, 0);
          entry.gate.resolve();
        }
        await flush();
      }
      await Promise.all(all);
      await limiter.idle();
      expect(maxSeen, `seed ${seed}`).toBe(limit);
      for (const [key, ids] of arrival) expect(startOrder.get(key), `seed ${seed} key ${key}`).toEqual(ids);
      expect(limiter.activeKeys, 'per-key state is released').toBe(0);
    }
  });

  it('does not keep state for keys once their tasks finish (10 000 distinct keys)', async () => {
    const limiter = new KeyedConcurrencyLimiter(8);
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => limiter.run(`key-${i}`, async () => i)));
    expect(limiter.activeKeys).toBe(0);
  });
});
