/**
 * JSON Schema → zod emitter: each row emits a schema, evaluates the source with zod 4 (exactly what
 * generated modules run) and checks accepted and rejected values.
 */
import { describe, expect, it } from 'vitest';
import { emitSchemas, SchemaEmitError } from '../../generator/schema.ts';
import type { JsonSchema, NamedSchemaInput } from '../../generator/schema.ts';
import { evaluateSchemas } from '../../generator/examples.ts';

function compile(schema: JsonSchema, defs: Record<string, JsonSchema> = {}, objectMode?: NamedSchemaInput['objectMode']) {
  const inputs: NamedSchemaInput[] = [
    { key: 'Subject', identifier: 'Subject', schema, ...(objectMode ? { objectMode } : {}) },
    ...Object.entries(defs).map(([key, s]) => ({ key, identifier: key, schema: s })),
  ];
  const emitted = emitSchemas(inputs);
  const table = evaluateSchemas({ schemas: emitted.map((e) => ({ identifier: e.identifier, zod: e.zod })) as never });
  const subject = table['Subject'];
  if (!subject) throw new Error('not emitted');
  return { schema: subject, code: emitted.find((e) => e.key === 'Subject')?.zod ?? '' };
}

const ref = (key: string) => ({ $ref: `#/components/schemas/${key}` });
const uuid = '7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00';

interface Row {
  name: string;
  schema: JsonSchema;
  defs?: Record<string, JsonSchema>;
  accept: unknown[];
  reject: unknown[];
  /** Substring the emitted source must contain. */
  emits?: string;
  objectMode?: NamedSchemaInput['objectMode'];
}

const rows: Row[] = [
  { name: 'required and optional properties', schema: { type: 'object', required: ['a'], properties: { a: { type: 'string' }, b: { type: 'number' } } }, accept: [{ a: 'x' }, { a: 'x', b: 1 }], reject: [{}, { a: 1 }, { a: 'x', b: 'y' }, null, []] },
  { name: 'additional properties allowed by default (passthrough)', schema: { type: 'object', properties: { a: { type: 'string' } } }, accept: [{ a: 'x', extra: 1 }], reject: [], emits: 'z.looseObject' },
  { name: 'additionalProperties: false', schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }, accept: [{ a: 'x' }], reject: [{ a: 'x', extra: 1 }], emits: 'z.strictObject' },
  { name: 'additionalProperties: schema', schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'integer' } }, accept: [{ a: 'x', n: 1 }], reject: [{ a: 'x', n: 'y' }], emits: '.catchall(' },
  { name: 'map (only additionalProperties)', schema: { type: 'object', additionalProperties: { type: 'boolean' } }, accept: [{}, { x: true }], reject: [{ x: 1 }], emits: 'z.record' },
  { name: 'strict object mode option', schema: { type: 'object', properties: { a: { type: 'string' } } }, objectMode: 'strict', accept: [{ a: 'x' }], reject: [{ a: 'x', b: 1 }] },
  { name: 'array with min/max items', schema: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2 }, accept: [['a'], ['a', 'b']], reject: [[], ['a', 'b', 'c'], [1]] },
  { name: 'uniqueItems', schema: { type: 'array', items: { type: 'integer' }, uniqueItems: true }, accept: [[1, 2]], reject: [[1, 1]] },
  { name: 'tuple (items array)', schema: { type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false }, accept: [['a', 1]], reject: [[1, 'a'], ['a', 1, 2]] },
  { name: 'string enum', schema: { type: 'string', enum: ['a', 'b'] }, accept: ['a'], reject: ['c', 1], emits: 'z.enum' },
  { name: 'mixed enum with null', schema: { enum: [1, 'two', null] }, accept: [1, 'two', null], reject: [2, 'one'] },
  { name: 'const', schema: { const: 'fixed' }, accept: ['fixed'], reject: ['other'], emits: 'z.literal("fixed")' },
  { name: 'object const', schema: { const: { a: 1 } }, accept: [{ a: 1 }], reject: [{ a: 2 }] },
  { name: 'oneOf (union)', schema: { oneOf: [{ type: 'string' }, { type: 'integer' }] }, accept: ['a', 1], reject: [1.5, true], emits: 'z.union' },
  { name: 'anyOf (union)', schema: { anyOf: [{ type: 'string', minLength: 3 }, { type: 'boolean' }] }, accept: ['abc', false], reject: ['ab'] },
  {
    name: 'allOf of objects merges into one object',
    schema: { allOf: [{ type: 'object', required: ['a'], properties: { a: { type: 'string' } } }, ref('B')] },
    defs: { B: { type: 'object', required: ['b'], properties: { b: { type: 'integer' } } } },
    accept: [{ a: 'x', b: 1 }],
    reject: [{ a: 'x' }, { b: 1 }],
  },
  { name: 'allOf of non-objects intersects', schema: { allOf: [{ type: 'string', minLength: 2 }, { type: 'string', maxLength: 3 }] }, accept: ['ab', 'abc'], reject: ['a', 'abcd'], emits: 'z.intersection' },
  {
    name: 'discriminated union from shared const property',
    schema: { oneOf: [ref('Cat'), ref('Dog')] },
    defs: {
      Cat: { type: 'object', required: ['kind', 'meows'], properties: { kind: { const: 'cat' }, meows: { type: 'boolean' } } },
      Dog: { type: 'object', required: ['kind', 'barks'], properties: { kind: { const: 'dog' }, barks: { type: 'boolean' } } },
    },
    accept: [{ kind: 'cat', meows: true }, { kind: 'dog', barks: false }],
    reject: [{ kind: 'cat', barks: true }, { kind: 'cow' }],
    emits: 'z.discriminatedUnion("kind"',
  },
  {
    name: 'discriminated union from the discriminator keyword (inline members, enum of one)',
    schema: {
      discriminator: { propertyName: 'type' },
      oneOf: [
        { type: 'object', required: ['type'], properties: { type: { type: 'string', enum: ['a'] }, x: { type: 'string' } } },
        { type: 'object', required: ['type'], properties: { type: { type: 'string', enum: ['b'] } } },
      ],
    },
    accept: [{ type: 'a', x: 'y' }, { type: 'b' }],
    reject: [{ type: 'c' }, { type: 'a', x: 1 }],
    emits: 'z.discriminatedUnion("type"',
  },
  {
    name: 'discriminated union of allOf "base + variant" members',
    schema: {
      oneOf: [
        { allOf: [ref('Base'), { type: 'object', required: ['kind', 'radius'], properties: { kind: { const: 'circle' }, radius: { type: 'number' } } }] },
        ref('Square'),
      ],
    },
    defs: {
      Base: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      Square: { allOf: [ref('Base')], required: ['kind', 'side'], properties: { kind: { const: 'square' }, side: { type: 'number' } } },
    },
    accept: [{ id: 'a', kind: 'circle', radius: 1 }, { id: 'b', kind: 'square', side: 2 }],
    reject: [{ kind: 'circle', radius: 1 }, { id: 'a', kind: 'square', radius: 1 }, { id: 'a', kind: 'triangle' }],
    emits: 'z.discriminatedUnion("kind"',
  },
  { name: 'nullable via type array', schema: { type: ['string', 'null'] }, accept: ['a', null], reject: [1, undefined], emits: '.nullable()' },
  { name: 'nullable: true (OpenAPI 3.0 style)', schema: { type: 'integer', nullable: true }, accept: [1, null], reject: ['1'] },
  { name: 'multiple types', schema: { type: ['string', 'number'] }, accept: ['a', 1.5], reject: [true] },
  { name: 'format date-time', schema: { type: 'string', format: 'date-time' }, accept: ['2026-03-01T12:00:00Z', '2026-03-01T12:00:00.123+02:00'], reject: ['yesterday', '2026-03-01'] },
  { name: 'format date', schema: { type: 'string', format: 'date' }, accept: ['2026-03-01'], reject: ['2026-13-01', '01.03.2026'] },
  { name: 'format email', schema: { type: 'string', format: 'email' }, accept: ['ada@example.com'], reject: ['ada', 'a@'] },
  { name: 'format uuid (RFC-lenient z.guid)', schema: { type: 'string', format: 'uuid' }, accept: [uuid, '00000000-0000-0000-0000-000000000000', '7f1c2a8e-9d4b-0c1e-0a2f-1b3c5d7e9f00'], reject: ['not-a-uuid', `${uuid}0`], emits: 'z.guid()' },
  { name: 'format uri', schema: { type: 'string', format: 'uri' }, accept: ['https://example.com/x?y=1'], reject: ['not a url'] },
  { name: 'format ipv4', schema: { type: 'string', format: 'ipv4' }, accept: ['10.0.0.1'], reject: ['10.0.0.256'] },
  { name: 'unknown format is an annotation', schema: { type: 'string', format: 'x-custom' }, accept: ['anything'], reject: [1] },
  { name: 'string minLength/maxLength/pattern', schema: { type: 'string', minLength: 2, maxLength: 4, pattern: '^[a-z]+$' }, accept: ['ab', 'abcd'], reject: ['a', 'abcde', 'AB'] },
  { name: 'unanchored pattern matches anywhere (ECMA-262 semantics)', schema: { type: 'string', pattern: '\\d' }, accept: ['a1b'], reject: ['abc'] },
  { name: 'number minimum/maximum', schema: { type: 'number', minimum: 0, maximum: 10 }, accept: [0, 10, 5.5], reject: [-0.1, 10.1] },
  { name: 'exclusiveMinimum/exclusiveMaximum (numbers)', schema: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, accept: [0.5], reject: [0, 1] },
  { name: 'exclusiveMinimum (draft-04 boolean)', schema: { type: 'number', minimum: 0, exclusiveMinimum: true }, accept: [0.1], reject: [0] },
  { name: 'multipleOf', schema: { type: 'number', multipleOf: 0.5 }, accept: [1, 1.5], reject: [1.2] },
  { name: 'integer', schema: { type: 'integer' }, accept: [1, -3], reject: [1.5, '1', Number.NaN] },
  { name: 'boolean and null', schema: { type: 'object', required: ['b', 'n'], properties: { b: { type: 'boolean' }, n: { type: 'null' } } }, accept: [{ b: true, n: null }], reject: [{ b: 1, n: null }, { b: true, n: 0 }] },
  { name: 'true / empty schema accept anything', schema: { type: 'object', required: ['a', 'b'], properties: { a: true, b: {} } }, accept: [{ a: 1, b: 'x' }], reject: [{}] },
  { name: 'false schema rejects', schema: { type: 'object', properties: { never: false } }, accept: [{}], reject: [{ never: 1 }] },
  { name: 'not', schema: { not: { type: 'string' } }, accept: [1, null], reject: ['x'] },
  {
    name: 'recursive schema (self reference through a property)',
    schema: ref('Node'),
    defs: { Node: { type: 'object', required: ['value'], properties: { value: { type: 'integer' }, children: { type: 'array', items: ref('Node') } } } },
    accept: [{ value: 1 }, { value: 1, children: [{ value: 2, children: [{ value: 3 }] }] }],
    reject: [{ value: 1, children: [{ value: 'x' }] }],
  },
  {
    name: 'mutually recursive schemas',
    schema: ref('A'),
    defs: {
      A: { type: 'object', properties: { b: ref('B') } },
      B: { type: 'object', required: ['n'], properties: { n: { type: 'integer' }, a: ref('A') } },
    },
    accept: [{ b: { n: 1, a: { b: { n: 2 } } } }],
    reject: [{ b: { n: 1, a: { b: { n: 'x' } } } }],
  },
  { name: 'keys that are keywords, quoted, or __proto__-like', schema: { type: 'object', required: ['class', 'a "b"', 'constructor'], properties: { class: { type: 'string' }, 'a "b"': { type: 'integer' }, constructor: { type: 'boolean' }, '*/': { type: 'string' } } }, accept: [{ class: 'x', 'a "b"': 1, constructor: true }], reject: [{ class: 'x', 'a "b"': 'y', constructor: true }] },
  { name: 'optional keys named like Object.prototype members are absent when not own', schema: { type: 'object', properties: { constructor: { type: 'string' }, toString: { type: 'number' }, valueOf: { type: 'boolean' } } }, accept: [{}, { constructor: 'x', toString: 1, valueOf: true }], reject: [{ constructor: 1 }, { toString: 'x' }], emits: 'optionalOwn(' },
];

describe('JSON Schema → zod', () => {
  it.each(rows)('$name', (row) => {
    const { schema, code } = compile(row.schema, row.defs, row.objectMode);
    if (row.emits) expect(code).toContain(row.emits);
    for (const value of row.accept) expect(schema.safeParse(value).success, `should accept ${JSON.stringify(value)}\n${code}`).toBe(true);
    for (const value of row.reject) expect(schema.safeParse(value).success, `should reject ${JSON.stringify(value)}\n${code}`).toBe(false);
  });

  it('applies defaults (input optional, output filled)', () => {
    const { schema } = compile({ type: 'object', properties: { retries: { type: 'integer', default: 3 }, tags: { type: 'array', items: { type: 'string' }, default: ['a'] } } });
    expect(schema.parse({})).toEqual({ retries: 3, tags: ['a'] });
    const first = schema.parse({}) as { tags: string[] };
    first.tags.push('mutated');
    expect(schema.parse({})).toEqual({ retries: 3, tags: ['a'] });
  });

  it('keeps descriptions as JSDoc with `*/` escaped', () => {
    const { code } = compile({ type: 'object', properties: { a: { type: 'string', description: 'ends */ here\nsecond line' } } });
    expect(code).toContain('ends *\\/ here');
    expect(code).not.toMatch(/ends \*\/ here/);
  });

  it('rejects an invalid pattern at generation, with its location', () => {
    expect(() => compile({ type: 'object', properties: { a: { type: 'string', pattern: '([' } } })).toThrow(SchemaEmitError);
    expect(() => compile({ type: 'object', properties: { a: { type: 'string', pattern: '([' } } })).toThrow(/properties\/a/);
  });

  it('reports unresolved references', () => {
    expect(() => compile(ref('Missing'))).toThrow(/unresolved reference/);
  });
});
