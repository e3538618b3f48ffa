import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../core/errors.ts';
import { RoundTripWatchdog } from './watchdog.ts';

describe('RoundTripWatchdog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('passes results and errors through untouched', async () => {
    const watchdog = new RoundTripWatchdog(1000);
    await expect(watchdog.track(Promise.resolve(42))).resolves.toBe(42);
    await expect(watchdog.track(Promise.reject(new Error('WRONGTYPE')))).rejects.toThrow('WRONGTYPE');
    watchdog.stop();
  });

  it('rejects a round trip with no reply after its timeout (within one check interval), in issue order', async () => {
    const watchdog = new RoundTripWatchdog(1000);
    const never = new Promise<never>(() => undefined);
    const first = watchdog.track(never).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    const second = watchdog.track(never).catch((e: unknown) => e);
    const answered = watchdog.track(Promise.resolve('ok'));
    await vi.advanceTimersByTimeAsync(600);
    expect(await first).toBeInstanceOf(TimeoutError);
    expect(String(await first)).toMatch(/Redis command timed out after 1000 ms/);
    await expect(answered).resolves.toBe('ok');
    expect(watchdog.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(600);
    expect(await second).toBeInstanceOf(TimeoutError);
    expect(watchdog.pending).toBe(0);
    watchdog.stop();
  });

  it('a late reply after the timeout changes nothing', async () => {
    const watchdog = new RoundTripWatchdog(100);
    let reply!: (v: string) => void;
    const tracked = watchdog.track(new Promise<string>((r) => (reply = r))).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(200);
    reply('late');
    expect(await tracked).toBeInstanceOf(TimeoutError);
    watchdog.stop();
  });
});
