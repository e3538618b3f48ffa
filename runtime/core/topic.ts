/** Topic names and patterns: dot-separated segments, `*` one segment, `#` zero or more. */
import { ConfigurationError } from './errors.ts';

export function isPatternTopic(topic: string): boolean {
  for (const segment of topic.split('.')) if (segment === '*' || segment === '#') return true;
  return false;
}

/** A matcher for a pattern (or an exact topic). Compiled once per subscription, not per message. */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  if (!isPatternTopic(pattern)) return (topic) => topic === pattern;
  const parts = pattern.split('.');
  let source = '^';
  parts.forEach((part, index) => {
    const dot = index === 0 ? '' : '\\.';
    if (part === '#') {
      // Zero or more segments: the separating dot belongs to the optional group.
      source += index === 0 ? '(?:[^.]+(?:\\.[^.]+)*)?' : '(?:\\.[^.]+)*';
    } else if (part === '*') {
      source += `${dot}[^.]+`;
    } else {
      source += dot + part.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
    }
  });
  // A leading '#' matching zero segments leaves a leading dot on the next segment: allow it.
  const regex = new RegExp(parts[0] === '#' && parts.length > 1 ? source.replace('^(?:[^.]+(?:\\.[^.]+)*)?\\.', '^(?:[^.]+\\.)*') + '$' : `${source}$`);
  return (topic) => regex.test(topic);
}

export function assertTopic(topic: unknown, broker: string, operation: string): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new ConfigurationError(`${operation} needs a non-empty topic name, got ${JSON.stringify(topic)}`, { broker });
  }
}
