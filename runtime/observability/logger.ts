/**
 * A logger hook that redacts before anything reaches the sink: wrap the pino (or any
 * `{ debug, info, warn, error }(obj, msg)`) logger handed to a broker client.
 */
import type { Logger } from '../core/logger.ts';
import { redactSecrets, redactString } from './redact.ts';

export type { Logger };

type Level = 'debug' | 'info' | 'warn' | 'error';

/** A logger that may also make child loggers (pino's `child(bindings)`). */
export interface ChildCapableLogger extends Logger {
  child?(bindings: object): Logger;
  /** pino's: lets the wrapper skip redacting calls the logger would drop anyway. */
  isLevelEnabled?(level: string): boolean;
}

export interface RedactingLogger extends Logger {
  child(bindings: object): RedactingLogger;
}

export function createRedactingLogger(logger: ChildCapableLogger): RedactingLogger {
  const forward = (level: Level) =>
    (obj: object, msg?: string): void => {
      if (logger.isLevelEnabled?.(level) === false) return;
      const safe = redactSecrets(obj);
      // Only pass msg when given: pino treats an explicit undefined second argument as a format arg.
      if (msg === undefined) logger[level](safe);
      else logger[level](safe, redactString(msg));
    };
  return {
    debug: forward('debug'),
    info: forward('info'),
    warn: forward('warn'),
    error: forward('error'),
    child(bindings: object): RedactingLogger {
      const safe = redactSecrets(bindings);
      if (typeof logger.child === 'function') return createRedactingLogger(logger.child(safe));
      // No native child: merge the bindings into every call.
      const merge = (level: Level) => (obj: object, msg?: string) => {
        const merged = obj instanceof Error ? { ...safe, err: obj } : { ...safe, ...obj };
        if (msg === undefined) logger[level](merged);
        else logger[level](merged, msg);
      };
      return createRedactingLogger({ debug: merge('debug'), info: merge('info'), warn: merge('warn'), error: merge('error') });
    },
  };
}
