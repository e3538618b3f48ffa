/**
 * Partial matching and assertion errors that both vitest and jest render well without any setup:
 * node's `AssertionError` carries `actual`/`expected`, which vitest turns into a diff and jest-circus
 * formats as an assert failure. No dependency on either runner.
 */
import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';

/** What vitest's and jest's `expect.any(String)`, `expect.stringContaining(…)`, … look like. */
export interface AsymmetricLike {
  asymmetricMatch(other: unknown): boolean;
}

/** Partial payload: any subset of keys, runners' asymmetric matchers and RegExps allowed anywhere. */
export type DeepPartialMatcher<T> = T extends readonly unknown[]
  ? { [K in keyof T]: DeepPartialMatcher<T[K]> } | AsymmetricLike
  : T extends object
    ? { [K in keyof T]?: DeepPartialMatcher<T[K]> } | AsymmetricLike
    : T | AsymmetricLike | (T extends string ? RegExp : never);

export interface WaitForOptions {
  /** Default 2000 ms. */
  timeout?: number;
}

function isAsymmetric(value: unknown): value is AsymmetricLike {
  return typeof value === 'object' && value !== null && typeof (value as { asymmetricMatch?: unknown }).asymmetricMatch === 'function';
}

/**
 * `actual` matches `expected` when every key `expected` names matches (recursively, like
 * `toMatchObject`); arrays match element by element and must have the same length; a RegExp matches
 * a string; runners' asymmetric matchers are honoured.
 */
export function matchesPartially(actual: unknown, expected: unknown): boolean {
  if (isAsymmetric(expected)) return expected.asymmetricMatch(actual);
  if (expected instanceof RegExp) return typeof actual === 'string' ? expected.test(actual) : actual instanceof RegExp && String(actual) === String(expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((item, index) => matchesPartially(actual[index], item));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.keys(expected).every((key) => Object.hasOwn(actual, key) && matchesPartially((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]));
  }
  return Object.is(actual, expected);
}

/**
 * `actual` cut down to the keys `expected` names (recursively), so a diff shows only what the partial
 * matcher looked at, as `toMatchObject` does.
 */
export function projectLike(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected) && Array.isArray(actual)) return actual.map((item, index) => (index < expected.length ? projectLike(item, expected[index]) : item));
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected) || expected instanceof RegExp || isAsymmetric(expected)) return actual;
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return actual;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(expected)) if (Object.hasOwn(actual, key)) out[key] = projectLike((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]);
  return out;
}

/** One line per value, bounded so a noisy topic does not flood the test output. */
export function preview(value: unknown, max = 300): string {
  const text = inspect(value, { depth: 6, breakLength: Infinity, compact: true, sorted: true });
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function listPreview(values: readonly unknown[], max = 10): string {
  if (values.length === 0) return '  (nothing)';
  const lines = values.slice(-max).map((v, i) => `  ${values.length > max ? i + values.length - max + 1 : i + 1}. ${preview(v)}`);
  if (values.length > max) lines.unshift(`  … ${values.length - max} earlier message(s) not shown`);
  return lines.join('\n');
}

export function assertionError(message: string, actual: unknown, expected: unknown): AssertionError {
  const error = new AssertionError({ message, actual, expected, operator: 'expectPublished' });
  // The stack should point at the test, not at this helper.
  Error.captureStackTrace?.(error, assertionError);
  return error;
}
