/**
 * Message examples must match their own schemas: an invalid example is a contract bug, reported at
 * generation with the message and example it came from. The emitted zod source is evaluated here
 * (it is plain JS), so the check uses exactly the validators the generated code will use.
 */
import * as z from 'zod';
import { optionalOwn } from '../runtime/core/validation.ts';
import type { ContractModel } from './model.ts';

export class ExampleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExampleError';
  }
}

type SchemaTable = Record<string, z.ZodType>;

/** Evaluates the model's schemas (once) into live zod schemas, keyed by identifier. */
export function evaluateSchemas(model: Pick<ContractModel, 'schemas'>): SchemaTable {
  const body = `${model.schemas.map((s) => `const ${s.identifier} = ${s.zod};`).join('\n')}\nreturn { ${model.schemas.map((s) => s.identifier).join(', ')} };`;
  // The code was produced by our own emitter from validated input (identifiers and literals are escaped).
  return new Function('z', 'optionalOwn', body)(z, optionalOwn) as SchemaTable;
}

export function checkExamples(model: ContractModel, file: string): void {
  if (model.fixtureMessages.length === 0) return;
  const table = evaluateSchemas(model);
  const problems: string[] = [];
  for (const message of model.fixtureMessages) {
    for (const example of message.examples) {
      const where = `${file}: messages.${message.key}.examples[${example.index}]${example.nameLiteral === 'undefined' ? '' : ` (${example.nameLiteral})`}`;
      const check = (schemaName: string | undefined, value: unknown, part: string): void => {
        if (schemaName === undefined || value === undefined) return;
        const schema = table[schemaName];
        if (!schema) return;
        const result = schema.safeParse(value);
        if (!result.success) {
          const issues = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
          problems.push(`${where} ${part} does not match its schema: ${issues}`);
        }
      };
      check(message.payloadSchema, example.payload, 'payload');
      check(message.headersSchema, example.headers, 'headers');
    }
  }
  if (problems.length) throw new ExampleError(problems.join('\n'));
}
