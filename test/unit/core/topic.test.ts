import { describe, expect, it } from 'vitest';
import { isPatternTopic, topicMatcher } from '../../../runtime/core/topic.ts';

describe('topic patterns', () => {
  it.each([
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.*', 'a', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['#.c', 'c', true],
    ['#.c', 'a.b.c', true],
    ['#.c', 'a.bc', false],
    ['#', 'x.y', true],
    ['a.#.z', 'a.z', true],
    ['a.#.z', 'a.b.c.z', true],
    ['a.*.z', 'a.z', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.bb', false],
    ['a-b.*', 'a-b.x', true],
    ['(x).*', '(x).y', true],
    ['(x).*', 'x.y', false],
  ])('%s matches %s: %s', (pattern, topic, expected) => {
    expect(topicMatcher(pattern)(topic)).toBe(expected);
  });

  it('tells patterns from plain topics by whole segments', () => {
    expect(isPatternTopic('orders.*')).toBe(true);
    expect(isPatternTopic('orders.#')).toBe(true);
    expect(isPatternTopic('orders.a*b')).toBe(false);
    expect(isPatternTopic('orders')).toBe(false);
  });
});
