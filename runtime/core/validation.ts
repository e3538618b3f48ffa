/**
 * Turns zod schemas (emitted by the generator, or written by hand) into the runtime's validation
 * seam: `PayloadValidator` for subscriptions, and the same throwing function for outgoing messages.
 * Validators are built once (module level in generated code) and compiled with zod 4's `z.compile`
 * fast path; a schema the compiler cannot model keeps zod's regular parser (same result, slower).
 */
import * as z from 'zod';
import { ValidationError } from './errors.ts';
import type { ValidationIssue } from './errors.ts';
import type { PayloadValidator } from './types.ts';

export interface ValidationContext {
  /** The topic (or address template) the value travels on; named in the error. */
  topic: string;
  direction: 'incoming' | 'outgoing';
  /** What is checked, for the message: 'payload' (default), 'headers', 'parameters'. */
  subject?: 'payload' | 'headers' | 'parameters';
  broker?: string;
}

/** zod 4 issues → the runtime's `ValidationIssue` (paths of strings and numbers only). */
export function toValidationIssues(issues: readonly z.core.$ZodIssue[]): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
    message: issue.message,
    code: issue.code,
  }));
}

function compiled<S extends z.ZodType>(schema: S): S {
  try {
    return z.compile(schema);
  } catch {
    return schema;
  }
}

function failure(issues: readonly z.core.$ZodIssue[], context: ValidationContext): ValidationError {
  const subject = context.subject ?? 'payload';
  const what = context.direction === 'outgoing' ? `Outgoing ${subject}` : `Incoming ${subject}`;
  const hint =
    context.direction === 'outgoing'
      ? 'Fix the value before publishing; it does not match the contract'
      : 'The producer sent a message that does not match the contract; it goes to the dead-letter topic';
  return new ValidationError(`${what} on ${JSON.stringify(context.topic)} does not match the contract`, toValidationIssues(issues), {
    direction: context.direction,
    topic: context.topic,
    hint,
    ...(context.broker === undefined ? {} : { broker: context.broker }),
  });
}

/**
 * A reusable validator: returns the parsed value (defaults applied) or throws `ValidationError`.
 * Build it once per schema, not per message.
 */
export function zodValidator<S extends z.ZodType>(schema: S, context: ValidationContext): PayloadValidator<z.output<S>> {
  const fast = compiled(schema);
  return (value: unknown): z.output<S> => {
    const result = fast.safeParse(value);
    if (result.success) return result.data;
    throw failure(result.error.issues, context);
  };
}

/** One-off check (not for hot paths: build a `zodValidator` instead). */
export function assertValid<S extends z.ZodType>(schema: S, value: unknown, context: ValidationContext): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw failure(result.error.issues, context);
}

/**
 * An optional property whose name is also an `Object.prototype` member (`constructor`, `toString`, …):
 * zod reads `input[key]` and would see the inherited function when the key is absent. JSON never
 * carries functions, so a function here means "not present".
 */
export function optionalOwn<S extends z.ZodType>(schema: S): z.ZodOptional<S> {
  const inherited = z.custom<never>((value) => typeof value === 'function').transform(() => undefined);
  return z.union([schema, inherited]).optional() as unknown as z.ZodOptional<S>;
}

/**
 * Incoming contract headers arrive as strings (every broker carries string headers). A header the
 * contract types as number/boolean/object was JSON-encoded by the publisher (`toWireHeaders`), so a
 * set that does not validate as-is is validated again with JSON-looking values decoded.
 */
export function wireHeadersValidator<S extends z.ZodType>(schema: S, context: ValidationContext): (headers: Readonly<Record<string, string>>) => z.output<S> {
  const fast = compiled(schema);
  return (headers) => {
    const direct = fast.safeParse(headers);
    if (direct.success) return direct.data;
    const decoded: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers)) decoded[name] = decodeHeaderValue(value);
    const retry = fast.safeParse(decoded);
    if (retry.success) return retry.data;
    throw failure(direct.error.issues, { ...context, subject: context.subject ?? 'headers' });
  };
}

function decodeHeaderValue(value: string): unknown {
  if (!/^(?:-?\d|true$|false$|null$|[[{"])/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
