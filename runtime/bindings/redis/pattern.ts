/**
 * contractbus topic patterns (`*` exactly one dot-separated segment, `#` zero or more) mapped onto
 * Redis PSUBSCRIBE globs. A Redis `*` also crosses dots, and `#` may swallow the dot next to it,
 * so the glob is a superset and an exact RegExp filters what it lets through.
 */

export interface TopicPattern {
  /** What PSUBSCRIBE gets. */
  glob: string;
  /** Exact contractbus semantics. */
  matches(topic: string): boolean;
}

export function isPattern(topic: string): boolean {
  return topic.split('.').some((segment) => segment === '*' || segment === '#');
}

export function compilePattern(pattern: string): TopicPattern {
  const segments = pattern.split('.');
  let glob = '';
  let regex = '';
  segments.forEach((segment, index) => {
    const first = index === 0;
    if (segment === '#') {
      // `a.#` matches `a` too, `#.b` matches `b`: the separator belongs to the wildcard.
      glob += '*';
      regex += first ? '(?:[^.]*(?:\\.[^.]*)*\\.)?' : '(?:\\.[^.]*)*';
      if (first && segments.length === 1) regex = '.*';
      return;
    }
    const previousWasHash = index > 0 && segments[index - 1] === '#';
    if (!first && !previousWasHash) glob += '.';
    if (!first && !previousWasHash) regex += '\\.';
    if (previousWasHash && index > 1) regex += '\\.';
    if (segment === '*') {
      glob += '*';
      regex += '[^.]+';
    } else {
      glob += segment.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
      regex += segment.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`);
    }
  });
  const exact = new RegExp(`^${regex}$`);
  return { glob: collapseStars(glob), matches: (topic) => exact.test(topic) };
}

function collapseStars(glob: string): string {
  return glob.replace(/(?<!\\)\*{2,}/g, '*');
}
