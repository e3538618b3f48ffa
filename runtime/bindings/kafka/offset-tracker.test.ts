import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offset-tracker.ts';

describe('OffsetTracker: commit only the contiguous prefix of handled offsets', () => {
  it('commits last handled + 1 once everything before it is done', () => {
    const t = new OffsetTracker();
    t.start(10n);
    expect(t.committable()).toBeUndefined();
    t.finish(10n);
    expect(t.committable()).toBe(11n);
  });

  it('holds the commit at the lowest unfinished offset when later ones finish first', () => {
    const t = new OffsetTracker();
    for (const o of [5n, 6n, 7n]) t.start(o);
    t.finish(7n);
    t.finish(6n);
    expect(t.committable()).toBeUndefined();
    t.finish(5n);
    expect(t.committable()).toBe(8n);
  });

  it('does not repeat a committed offset and tolerates gaps (compaction, markers)', () => {
    const t = new OffsetTracker();
    t.start(0n);
    t.finish(0n);
    t.committed(t.committable() ?? -1n);
    expect(t.committable()).toBeUndefined();
    t.start(4n);
    t.start(9n);
    t.finish(4n);
    expect(t.committable()).toBe(9n);
  });

  it('refuses records handed out of order', () => {
    const t = new OffsetTracker();
    t.start(3n);
    expect(() => t.start(2n)).toThrow(RangeError);
  });
});
