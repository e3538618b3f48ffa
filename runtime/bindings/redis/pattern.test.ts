import { describe, expect, it } from 'vitest';
import { compilePattern, isPattern } from './pattern.ts';

describe('Redis topic patterns', () => {
  const cases: Array<[string, string, string[], string[]]> = [
    // pattern, glob, matches, does not match
    ['user.*', 'user.*', ['user.created', 'user.x'], ['user', 'user.a.b', 'users.x', 'user.']],
    ['user.#', 'user*', ['user', 'user.a', 'user.a.b'], ['users', 'userx.a']],
    ['#.created', '*created', ['created', 'user.created', 'a.b.created'], ['uncreated', 'user.created.x']],
    ['a.#.z', 'a*z', ['a.z', 'a.b.z', 'a.b.c.z'], ['az', 'a.bz', 'a.z.q']],
    ['*.created', '*.created', ['user.created'], ['created', 'a.b.created']],
    ['#', '*', ['', 'a', 'a.b.c'], []],
    ['shop.[x]?.*', 'shop.\\[x\\]\\?.*', ['shop.[x]?.y'], ['shop.x.y', 'shop.[x]a.y']],
  ];
  for (const [pattern, glob, yes, no] of cases) {
    it(`${pattern} → PSUBSCRIBE ${glob}, filtered exactly`, () => {
      const compiled = compilePattern(pattern);
      expect(compiled.glob).toBe(glob);
      for (const topic of yes) expect(compiled.matches(topic), topic).toBe(true);
      for (const topic of no) expect(compiled.matches(topic), topic).toBe(false);
    });
  }

  it('treats only whole * and # segments as wildcards', () => {
    expect(isPattern('user.*')).toBe(true);
    expect(isPattern('user.#')).toBe(true);
    expect(isPattern('user*')).toBe(false);
    expect(isPattern('user.created')).toBe(false);
    expect(compilePattern('a.b*.*').matches('a.b*.c')).toBe(true);
    expect(compilePattern('a.b*.*').matches('a.bx.c')).toBe(false);
  });
});
