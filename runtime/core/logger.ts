/**
 * Logging seam: pino's call shape (`logger.warn({ topic }, 'message')`), so a pino or bunyan
 * instance plugs in as is. Default silent: a library must not write to stdout uninvited.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** One line per call on stderr; for examples and debugging, not production. */
export function consoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'] as const;
  const min = order.indexOf(level);
  const make = (name: (typeof order)[number]) =>
    order.indexOf(name) < min ? noop : (obj: object, msg?: string): void => console.error(`[contractbus] ${name} ${msg ?? ''} ${safeJson(obj)}`);
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

function safeJson(obj: object): string {
  try {
    return JSON.stringify(obj, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value));
  } catch {
    return String(obj);
  }
}
