/**
 * Secret redaction for everything the runtime lets out: logs, errors, health output, span events.
 * Broker URLs carry passwords (`amqp://user:pass@host`), options carry `password`/`sasl`, and
 * client libraries quote both in their error messages, so redaction walks all of them.
 */

export const MASK = '***';

/** Keys whose values are secrets wherever they appear (compared case-insensitively, without `_`/`-`). */
const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'apikey',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'saslpassword',
  'credentials',
  'privatekey',
  'passphrase',
  'sessiontoken',
  'secretaccesskey',
]);

/** Objects under these keys are credentials through and through (Kafka `sasl: { username, password, … }`). */
const SECRET_CONTAINERS = new Set(['sasl']);
/** Kept visible inside a secret container: says which mechanism failed, reveals nothing. */
const CONTAINER_PUBLIC_KEYS = new Set(['mechanism']);

const MAX_DEPTH = 12;

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_.]/g, '');
}

export function isSecretKey(key: string): boolean {
  const normalised = normaliseKey(key);
  return SECRET_KEYS.has(normalised) || normalised.endsWith('password') || normalised.endsWith('secret') || normalised.endsWith('token');
}

// scheme://user:password@host — the password runs to the last '@' of the token, so an
// unencoded '@' inside it is still covered (over-masking beats leaking).
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@"'<>]*):([^\s"'<>]*)@/gi;
// A user part alone can be a token (https://TOKEN@host): masked unless it looks like a plain name.
const URL_USER_ONLY = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@"'<>]{17,})@/gi;
// ?password=…&token=… in URLs and `password=…` / `password: …` in free text.
const SECRET_PARAM =
  /((?:^|[?&;,\s"'{(])(?:password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|api_key|apikey|sasl_password|saslPassword|authorization|auth)\s*["']?\s*[=:]\s*["']?)((?:Bearer|Basic)\s+)?([^&\s"',;)}]+)/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g;

/** `redis://user:pass@h` → `redis://user:***@h`; also secret query parameters. Any text, not only a bare URL. */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`).replace(URL_USER_ONLY, (_m, scheme: string) => `${scheme}${MASK}@`);
}

/** Redacts every kind of secret this module knows in a free-text string (messages, stacks). */
export function redactString(text: string): string {
  if (text.length === 0) return text;
  return redactUrl(text)
    .replace(SECRET_PARAM, (_m, prefix: string) => `${prefix}${MASK}`)
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${MASK}`)
    .replace(PEM_PRIVATE_KEY, `[${MASK} private key]`);
}

/**
 * A deep copy of `value` with secrets masked: secret keys, secrets inside strings (URLs,
 * `password=`), errors (message, stack, cause, AggregateError.errors, own fields). Cycle-safe;
 * errors stay errors (same prototype) so loggers still recognise them.
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, new WeakMap(), 0, false) as T;
}

/** `redactSecrets` for an error; always returns an Error (non-errors are wrapped). */
export function redactError(error: unknown): Error {
  if (error instanceof Error) return redactSecrets(error);
  return new Error(redactString(String(error)));
}

function walk(value: unknown, seen: WeakMap<object, unknown>, depth: number, insideSecret: boolean): unknown {
  if (typeof value === 'string') return insideSecret ? MASK : redactString(value);
  if (value === null || typeof value !== 'object') {
    if (insideSecret && value !== undefined && typeof value !== 'function') return MASK;
    return value;
  }
  const cached = seen.get(value);
  if (cached !== undefined) return cached;
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Error) return walkError(value, seen, depth);
  if (value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (value instanceof URL) return new URL(redactUrl(value.href));
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(walk(item, seen, depth + 1, insideSecret));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [key, item] of value) copy.set(key, typeof key === 'string' ? walkEntry(key, item, seen, depth, insideSecret) : walk(item, seen, depth + 1, insideSecret));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set<unknown>();
    seen.set(value, copy);
    for (const item of value) copy.add(walk(item, seen, depth + 1, insideSecret));
    return copy;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // What a logger would print anyway (JSON.stringify calls it); a throwing toJSON falls back to own fields.
    try {
      const json: unknown = toJSON.call(value);
      if (json !== value) {
        const placeholder = {};
        seen.set(value, placeholder);
        const result = walk(json, seen, depth + 1, insideSecret);
        seen.set(value, result);
        return result;
      }
    } catch {
      /* own fields below */
    }
  }
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  // ioredis attaches the failed command to its errors: `{ name: 'auth', args: [user, password] }`.
  const credentialCommand = isCredentialCommand(value);
  for (const key of Object.keys(value)) {
    if (credentialCommand && key === 'args') {
      copy[key] = MASK;
      continue;
    }
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = '[Unreadable]';
    }
    copy[key] = walkEntry(key, item, seen, depth, insideSecret);
  }
  return copy;
}

function isCredentialCommand(value: object): boolean {
  const name = (value as { name?: unknown }).name;
  return typeof name === 'string' && /^(auth|hello|config|acl)$/i.test(name) && 'args' in value;
}

function walkEntry(key: string, item: unknown, seen: WeakMap<object, unknown>, depth: number, insideSecret: boolean): unknown {
  const normalised = normaliseKey(key);
  if (insideSecret && CONTAINER_PUBLIC_KEYS.has(normalised)) return walk(item, seen, depth + 1, false);
  if (isSecretKey(key)) return item === undefined || item === null || item === '' ? item : MASK;
  if (SECRET_CONTAINERS.has(normalised) && item !== null && typeof item === 'object') return walk(item, seen, depth + 1, true);
  return walk(item, seen, depth + 1, insideSecret);
}

function walkError(error: Error, seen: WeakMap<object, unknown>, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(error) as object | null) as Error;
  seen.set(error, copy);
  define(copy, 'message', redactString(String(error.message)));
  if (typeof error.stack === 'string') define(copy, 'stack', redactString(error.stack));
  // `name` usually lives on the prototype; an own one (set in a constructor) is copied below.
  if ('cause' in error) define(copy, 'cause', walk(error.cause, seen, depth + 1, false));
  if (error instanceof AggregateError) define(copy, 'errors', (error.errors as unknown[]).map((inner) => walk(inner, seen, depth + 1, false)));
  for (const key of Object.keys(error)) {
    if (key === 'message' || key === 'stack' || key === 'cause') continue;
    let item: unknown;
    try {
      item = (error as unknown as Record<string, unknown>)[key];
    } catch {
      item = '[Unreadable]';
    }
    (copy as unknown as Record<string, unknown>)[key] = walkEntry(key, item, seen, depth, false);
  }
  return copy;
}

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}
