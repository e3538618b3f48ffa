import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../core/errors.ts';
import { expiresAtFromTtl, isExpired } from './ttl.ts';

describe('ttl', () => {
  it('computes an absolute expiry from seconds, with sub-second precision', () => {
    expect(expiresAtFromTtl(60, 1_000)).toBe(61_000);
    expect(expiresAtFromTtl(0.25, 1_000)).toBe(1_250);
    expect(expiresAtFromTtl(undefined, 1_000)).toBeUndefined();
  });

  it('rejects a ttl that is not a positive finite number with a ConfigurationError', () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) expect(() => expiresAtFromTtl(bad, 0)).toThrow(ConfigurationError);
    expect(() => expiresAtFromTtl('5' as unknown as number, 0)).toThrow(/seconds > 0/);
  });

  it('expires strictly after expiresAt; no expiry never expires', () => {
    expect(isExpired(1000, 999)).toBe(false);
    expect(isExpired(1000, 1000)).toBe(false);
    expect(isExpired(1000, 1001)).toBe(true);
    expect(isExpired(undefined, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});
