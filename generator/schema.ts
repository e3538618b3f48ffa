/**
 * JSON Schema (the AsyncAPI schema dialect, draft-07 with `nullable`/`discriminator` extras) → zod 4
 * source. Our own emitter because the existing ones lose information (see DESIGN.md): this one keeps
 * field names, formats, unions and recursion, and never falls back to `any`.
 *
 * Input schemas are acyclic JSON: references between named schemas are `{ "$ref": "#/components/schemas/<key>" }`.
 * Recursion is emitted with zod 4 getters inside object shapes (types stay inferred), `z.lazy` elsewhere.
 *
 * Choices (documented in the README):
 * - `oneOf` without a discriminator is emitted as `z.union` (any-of), because loose objects overlap and
 *   exclusive matching would reject most real messages. With a discriminator (declared, or a shared
 *   required `const` property) it is `z.discriminatedUnion`, which is exact.
 * - `format: uuid` is `z.guid()`: RFC-lenient (any 8-4-4-4-12 hex), as producers in the wild send
 *   ids that `z.uuid()`'s RFC 9562 version/variant check rejects.
 * - Objects without `additionalProperties` follow `objectMode` (default 'passthrough' → `z.looseObject`,
 *   forward compatible: a newer producer may add fields).
 */

import { jsDoc, literal, propertyKey, valueLiteral } from './names.ts';

export type JsonSchema = boolean | { [keyword: string]: unknown };

export type ObjectMode = 'passthrough' | 'strip' | 'strict';

export const REF_PREFIX = '#/components/schemas/';

export interface NamedSchemaInput {
  /** Key used in `$ref`s (`#/components/schemas/<key>`). */
  key: string;
  /** Identifier of the exported const (and of its output type). */
  identifier: string;
  schema: JsonSchema;
  /** How objects without `additionalProperties` behave. Default 'passthrough'. */
  objectMode?: ObjectMode;
}

export interface EmittedSchema {
  /** Uses the runtime's `optionalOwn` helper (optional keys named like Object.prototype members). */
  usesOptionalOwn: boolean;
  key: string;
  identifier: string;
  /** The zod expression (refers to other named schemas by identifier). */
  zod: string;
  /** Part of a reference cycle (emitted with getters / z.lazy). */
  recursive: boolean;
}

export class SchemaEmitError extends Error {
  readonly pointer: string;
  constructor(message: string, pointer: string) {
    super(`${message} (at ${pointer || '/'})`);
    this.name = 'SchemaEmitError';
    this.pointer = pointer;
  }
}

type Obj = { [keyword: string]: unknown };

/** Property names zod would read from the prototype chain when absent. */
const PROTOTYPE_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype));

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refKey(schema: Obj): string | undefined {
  const ref = schema['$ref'];
  if (typeof ref !== 'string') return undefined;
  return ref.startsWith(REF_PREFIX) ? decodeURIComponent(ref.slice(REF_PREFIX.length)) : ref;
}

/** Every `$ref` key a schema mentions, in document order. */
export function referencedKeys(schema: JsonSchema, into: string[] = []): string[] {
  if (Array.isArray(schema)) {
    for (const item of schema) referencedKeys(item as JsonSchema, into);
  } else if (isObj(schema)) {
    const key = refKey(schema);
    if (key !== undefined) into.push(key);
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'const' || k === 'enum' || k === 'default' || k === 'examples' || k === 'example') continue;
      if (typeof v === 'object' && v !== null) referencedKeys(v as JsonSchema, into);
    }
  }
  return into;
}

/**
 * Orders named schemas so that each comes after what it references (depth-first post-order, in input
 * order), and marks the members of reference cycles.
 */
function orderSchemas(inputs: NamedSchemaInput[]): { ordered: NamedSchemaInput[]; recursive: Set<string> } {
  const byKey = new Map(inputs.map((s) => [s.key, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const ordered: NamedSchemaInput[] = [];
  const recursive = new Set<string>();
  const stack: string[] = [];
  const visit = (key: string): void => {
    const status = state.get(key);
    if (status === 'done') return;
    if (status === 'visiting') {
      for (let i = stack.lastIndexOf(key); i < stack.length; i++) recursive.add(stack[i] as string);
      return;
    }
    const input = byKey.get(key);
    if (!input) return;
    state.set(key, 'visiting');
    stack.push(key);
    for (const dep of referencedKeys(input.schema)) visit(dep);
    stack.pop();
    state.set(key, 'done');
    ordered.push(input);
  };
  for (const input of inputs) visit(input.key);
  return { ordered, recursive };
}

interface Expr {
  code: string;
  /** Mentions a named schema that is not declared yet: must sit behind a getter or z.lazy. */
  forward: boolean;
  /** A plain z.object(...) expression (usable as a discriminated-union option). */
  isObject?: boolean;
}

interface Context {
  usesOptionalOwn?: boolean;
  byKey: Map<string, NamedSchemaInput>;
  declared: Set<string>;
  objectMode: ObjectMode;
}

/** Emits every named schema; the result is in declaration order. */
export function emitSchemas(inputs: NamedSchemaInput[]): EmittedSchema[] {
  const { ordered, recursive } = orderSchemas(inputs);
  const byKey = new Map(inputs.map((s) => [s.key, s]));
  const declared = new Set<string>();
  const out: EmittedSchema[] = [];
  for (const input of ordered) {
    const ctx: Context = { byKey, declared, objectMode: input.objectMode ?? 'passthrough' };
    let expr = emit(input.schema, ctx, `${REF_PREFIX}${input.key}`);
    // A self-reference outside any object shape (e.g. `oneOf: [A, [A]]`) needs z.lazy at the top.
    if (expr.forward && !expr.isObject) expr = { code: `z.lazy(() => ${expr.code})`, forward: false };
    declared.add(input.key);
    out.push({ key: input.key, identifier: input.identifier, zod: expr.code, recursive: recursive.has(input.key), usesOptionalOwn: ctx.usesOptionalOwn === true });
  }
  for (const input of inputs) {
    if (!declared.has(input.key)) throw new SchemaEmitError(`schema ${input.key} was not emitted`, '');
  }
  return out;
}

/** Emits one standalone schema (no named references allowed unless `named` lists them). */
export function emitSchema(schema: JsonSchema, options: { objectMode?: ObjectMode; named?: NamedSchemaInput[] } = {}): string {
  const byKey = new Map((options.named ?? []).map((s) => [s.key, s]));
  return emit(schema, { byKey, declared: new Set(byKey.keys()), objectMode: options.objectMode ?? 'passthrough' }, '').code;
}

function resolve(schema: JsonSchema, ctx: Context): JsonSchema {
  let current = schema;
  for (let depth = 0; depth < 32 && isObj(current); depth++) {
    const key = refKey(current);
    if (key === undefined) return current;
    const target = ctx.byKey.get(key);
    if (!target) return current;
    current = target.schema;
  }
  return current;
}

function emit(schema: JsonSchema, ctx: Context, pointer: string): Expr {
  if (schema === true) return { code: 'z.unknown()', forward: false };
  if (schema === false) return { code: 'z.never()', forward: false };
  if (!isObj(schema)) throw new SchemaEmitError('a schema must be an object or a boolean', pointer);

  const key = refKey(schema);
  if (key !== undefined) {
    const target = ctx.byKey.get(key);
    if (!target) throw new SchemaEmitError(`unresolved reference ${literal(String(schema['$ref']))}`, pointer);
    let expr: Expr = { code: target.identifier, forward: !ctx.declared.has(key) };
    expr = applyModifiers(expr, schema, ctx, pointer);
    return expr;
  }

  const base = emitBase(schema, ctx, pointer);
  return applyModifiers(base, schema, ctx, pointer);
}

/** nullable and default: apply to refs and inline schemas alike. */
function applyModifiers(expr: Expr, schema: Obj, _ctx: Context, pointer: string): Expr {
  let { code } = expr;
  let isObject = expr.isObject === true;
  if (schema['nullable'] === true || (Array.isArray(schema['type']) && schema['type'].includes('null') && schema['type'].length > 1)) {
    code = `${code}.nullable()`;
    isObject = false;
  }
  if ('default' in schema && schema['default'] !== undefined) {
    code = `${code}.default(${defaultValue(schema['default'], pointer)})`;
    isObject = false;
  }
  return { code, forward: expr.forward, isObject };
}

function defaultValue(value: unknown, pointer: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new SchemaEmitError('default is not JSON', pointer);
  // zod 4 shallow-copies a default per parse; the plain value keeps contextual typing (enum arrays).
  return valueLiteral(value);
}

function typesOf(schema: Obj): string[] {
  const type = schema['type'];
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string' && t !== 'null');
  return [];
}

function emitBase(schema: Obj, ctx: Context, pointer: string): Expr {
  const declaredNull = Array.isArray(schema['type']) ? schema['type'].includes('null') : schema['type'] === 'null';
  if ('const' in schema) return { code: constExpr(schema['const'], pointer), forward: false };
  if (Array.isArray(schema['enum'])) return { code: enumExpr(schema['enum'], pointer), forward: false };

  // Plain-object allOf (the usual "base + variant" inheritance) becomes one object: exact, better types.
  const merged = mergedAllOf(schema, ctx);
  if (merged) return emitBase(merged, ctx, pointer);

  const parts: Expr[] = [];
  const combinator = schema['oneOf'] ?? schema['anyOf'];
  if (Array.isArray(combinator)) parts.push(unionExpr(schema, combinator as JsonSchema[], ctx, `${pointer}/${'oneOf' in schema ? 'oneOf' : 'anyOf'}`));
  if (Array.isArray(schema['allOf'])) parts.push(allOfExpr(schema['allOf'] as JsonSchema[], ctx, `${pointer}/allOf`));
  if (isObj(schema['not']) || typeof schema['not'] === 'boolean') {
    // `not` is rare in contracts; keep it exact with a refinement on the emitted inverse.
    const inner = emit(schema['not'] as JsonSchema, ctx, `${pointer}/not`);
    if (inner.forward) throw new SchemaEmitError('`not` cannot reference a recursive schema', pointer);
    parts.push({ code: `z.unknown().refine((value) => !${inner.code}.safeParse(value).success, { message: "Must not match the excluded schema" })`, forward: false });
  }

  let types = typesOf(schema);
  if (types.length === 0 && parts.length === 0) {
    if (isObj(schema['properties']) || 'additionalProperties' in schema || Array.isArray(schema['required'])) types = ['object'];
    else if ('items' in schema || 'prefixItems' in schema) types = ['array'];
    else if (typeof schema['format'] === 'string' || 'pattern' in schema || 'minLength' in schema || 'maxLength' in schema) types = ['string'];
    else if ('minimum' in schema || 'maximum' in schema || 'multipleOf' in schema) types = ['number'];
  }
  if (types.length > 0) {
    const typed = types.map((t) => typeExpr(t, schema, ctx, pointer));
    parts.unshift(typed.length === 1 ? (typed[0] as Expr) : { code: `z.union([${typed.map((t) => t.code).join(', ')}])`, forward: typed.some((t) => t.forward) });
  }
  if (parts.length === 0) return { code: declaredNull ? 'z.null()' : 'z.unknown()', forward: false };
  if (parts.length === 1) return parts[0] as Expr;
  return {
    code: parts.slice(1).reduce((acc, p) => `z.intersection(${acc}, ${p.code})`, (parts[0] as Expr).code),
    forward: parts.some((p) => p.forward),
  };
}

function isPrimitive(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function constExpr(value: unknown, pointer: string): string {
  if (value === null) return 'z.null()';
  if (isPrimitive(value)) return `z.literal(${JSON.stringify(value)})`;
  const json = JSON.stringify(value);
  if (json === undefined) throw new SchemaEmitError('const is not JSON', pointer);
  return `z.unknown().refine((value) => JSON.stringify(value) === ${literal(json)}, { message: ${literal(`Must equal ${json}`)} })`;
}

function enumExpr(values: unknown[], pointer: string): string {
  if (values.length === 0) return 'z.never()';
  if (values.every((v) => typeof v === 'string')) return `z.enum([${values.map((v) => JSON.stringify(v)).join(', ')}])`;
  if (values.every(isPrimitive)) {
    const nonNull = values.filter((v) => v !== null);
    const hasNull = nonNull.length !== values.length;
    if (nonNull.length === 0) return 'z.null()';
    const allStrings = nonNull.every((v) => typeof v === 'string');
    const base = allStrings
      ? `z.enum([${nonNull.map((v) => JSON.stringify(v)).join(', ')}])`
      : nonNull.length === 1
        ? `z.literal(${JSON.stringify(nonNull[0])})`
        : `z.literal([${nonNull.map((v) => JSON.stringify(v)).join(', ')}])`;
    return hasNull ? `${base}.nullable()` : base;
  }
  const jsons = values.map((v) => JSON.stringify(v));
  if (jsons.some((j) => j === undefined)) throw new SchemaEmitError('enum values must be JSON', pointer);
  return `z.unknown().refine((value) => [${jsons.map((j) => literal(j as string)).join(', ')}].includes(JSON.stringify(value)), { message: "Must be one of the enumerated values" })`;
}

function typeExpr(type: string, schema: Obj, ctx: Context, pointer: string): Expr {
  switch (type) {
    case 'string':
      return { code: stringExpr(schema, pointer), forward: false };
    case 'number':
    case 'integer':
      return { code: numberExpr(type, schema), forward: false };
    case 'boolean':
      return { code: 'z.boolean()', forward: false };
    case 'null':
      return { code: 'z.null()', forward: false };
    case 'array':
      return arrayExpr(schema, ctx, pointer);
    case 'object':
      return objectExpr(schema, ctx, pointer);
    default:
      throw new SchemaEmitError(`unknown type ${literal(type)}`, pointer);
  }
}

const FORMATS: Record<string, string> = {
  'date-time': 'z.iso.datetime({ offset: true })',
  date: 'z.iso.date()',
  time: 'z.iso.time()',
  duration: 'z.iso.duration()',
  email: 'z.email()',
  'idn-email': 'z.email()',
  uuid: 'z.guid()',
  uri: 'z.url()',
  url: 'z.url()',
  iri: 'z.url()',
  ipv4: 'z.ipv4()',
  ipv6: 'z.ipv6()',
  hostname: 'z.hostname()',
  byte: 'z.base64()',
};

function nonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function stringExpr(schema: Obj, pointer: string): string {
  const format = typeof schema['format'] === 'string' ? schema['format'] : undefined;
  let code = (format && FORMATS[format]) || 'z.string()';
  if (nonNegativeInt(schema['minLength'])) code += `.min(${schema['minLength']})`;
  if (nonNegativeInt(schema['maxLength'])) code += `.max(${schema['maxLength']})`;
  if (typeof schema['pattern'] === 'string') code += `.regex(${regexExpr(schema['pattern'], pointer)})`;
  return code;
}

/** JSON Schema patterns are ECMA-262 and unanchored, so `new RegExp(pattern, 'u')` is exact. Checked here, at generation. */
export function regexExpr(pattern: string, pointer: string): string {
  for (const flags of ['u', '']) {
    try {
      new RegExp(pattern, flags);
      return `new RegExp(${literal(pattern)}${flags ? `, ${literal(flags)}` : ''})`;
    } catch {
      // try the next flag set
    }
  }
  throw new SchemaEmitError(`pattern ${literal(pattern)} is not a valid regular expression`, pointer);
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function numberExpr(type: string, schema: Obj): string {
  let code = type === 'integer' ? 'z.int()' : 'z.number()';
  const exMin = schema['exclusiveMinimum'];
  const exMax = schema['exclusiveMaximum'];
  if (finite(exMin)) code += `.gt(${exMin})`;
  if (finite(schema['minimum'])) code += exMin === true ? `.gt(${schema['minimum']})` : `.gte(${schema['minimum']})`;
  if (finite(exMax)) code += `.lt(${exMax})`;
  if (finite(schema['maximum'])) code += exMax === true ? `.lt(${schema['maximum']})` : `.lte(${schema['maximum']})`;
  if (finite(schema['multipleOf']) && schema['multipleOf'] > 0) code += `.multipleOf(${schema['multipleOf']})`;
  return code;
}

function arrayExpr(schema: Obj, ctx: Context, pointer: string): Expr {
  const prefix = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : Array.isArray(schema['items']) ? schema['items'] : undefined;
  let expr: Expr;
  if (prefix) {
    const items = (prefix as JsonSchema[]).map((s, i) => emit(s, ctx, `${pointer}/items/${i}`));
    const restSchema = Array.isArray(schema['items']) ? schema['additionalItems'] : schema['items'];
    const rest = restSchema === undefined || restSchema === true ? 'z.unknown()' : restSchema === false ? undefined : emit(restSchema as JsonSchema, ctx, `${pointer}/items`).code;
    expr = { code: `z.tuple([${items.map((i) => i.code).join(', ')}]${rest ? `, ${rest}` : ''})`, forward: items.some((i) => i.forward) };
  } else {
    const items = schema['items'] === undefined ? { code: 'z.unknown()', forward: false } : emit(schema['items'] as JsonSchema, ctx, `${pointer}/items`);
    expr = { code: `z.array(${items.code})`, forward: items.forward };
  }
  if (nonNegativeInt(schema['minItems'])) expr.code += `.min(${schema['minItems']})`;
  if (nonNegativeInt(schema['maxItems'])) expr.code += `.max(${schema['maxItems']})`;
  if (schema['uniqueItems'] === true) {
    expr.code += '.refine((items) => new Set(items.map((item) => JSON.stringify(item))).size === items.length, { message: "Items must be unique" })';
  }
  return expr;
}

function objectExpr(schema: Obj, ctx: Context, pointer: string): Expr {
  const properties = isObj(schema['properties']) ? schema['properties'] : {};
  const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((r): r is string => typeof r === 'string') : []);
  const additional = schema['additionalProperties'];
  const names = Object.keys(properties);
  // A required property without a schema still has to be present.
  for (const name of required) if (!(name in properties)) names.push(name);

  if (names.length === 0 && (isObj(additional) || additional === undefined || additional === true) && ctx.objectMode !== 'strict') {
    const value = isObj(additional) ? emit(additional, ctx, `${pointer}/additionalProperties`) : { code: 'z.unknown()', forward: false };
    return { code: `z.record(z.string(), ${value.code})`, forward: value.forward };
  }

  let forward = false;
  const lines: string[] = [];
  for (const name of names) {
    const propSchema = (Object.hasOwn(properties, name) ? properties[name] : true) as JsonSchema;
    const prop = emit(propSchema, ctx, `${pointer}/properties/${escapePointer(name)}`);
    const hasDefault = isObj(propSchema) && propSchema['default'] !== undefined;
    // Nested shapes: indent their continuation lines under this property.
    const nested = prop.code.replace(/\n/g, '\n  ');
    let code = required.has(name) || hasDefault ? nested : `${nested}.optional()`;
    if (!required.has(name) && !hasDefault && PROTOTYPE_MEMBERS.has(name)) {
      code = `optionalOwn(${nested})`;
      ctx.usesOptionalOwn = true;
    }
    const doc = isObj(propSchema) ? describe(propSchema) : undefined;
    const docText = doc ? jsDoc(doc, '  ') : '';
    if (prop.forward) {
      // zod 4 getters defer the reference until parse time and keep the inferred type.
      lines.push(`${docText}  get ${propertyKey(name)}() { return ${code}; },`);
    } else {
      lines.push(`${docText}  ${propertyKey(name)}: ${code},`);
    }
  }
  const shape = lines.length ? `{\n${lines.join('\n')}\n}` : '{}';
  let code: string;
  if (additional === false) code = `z.strictObject(${shape})`;
  else if (additional === true) code = `z.looseObject(${shape})`;
  else if (isObj(additional)) {
    const value = emit(additional, ctx, `${pointer}/additionalProperties`);
    if (value.forward) forward = true;
    code = `z.object(${shape}).catchall(${value.code})`;
  } else code = ctx.objectMode === 'strict' ? `z.strictObject(${shape})` : ctx.objectMode === 'strip' ? `z.object(${shape})` : `z.looseObject(${shape})`;
  return { code, forward, isObject: !forward };
}

function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Description plus the annotations worth seeing in an editor tooltip. */
export function describe(schema: Obj): string | undefined {
  const parts: string[] = [];
  if (typeof schema['description'] === 'string') parts.push(schema['description']);
  if (schema['deprecated'] === true) parts.push('@deprecated');
  return parts.length ? parts.join('\n') : undefined;
}

function discriminatorOf(schema: Obj): string | undefined {
  const d = schema['discriminator'];
  if (typeof d === 'string') return d;
  if (isObj(d) && typeof d['propertyName'] === 'string') return d['propertyName'];
  return undefined;
}

/** The literal value a member pins `property` to, if it does (required const or single-value enum). */
function pinnedValue(member: JsonSchema, property: string): unknown {
  if (!isObj(member)) return undefined;
  const props = member['properties'];
  const required = Array.isArray(member['required']) ? member['required'] : [];
  if (!isObj(props) || !required.includes(property)) return undefined;
  const prop = props[property];
  if (!isObj(prop)) return undefined;
  if ('const' in prop && isPrimitive(prop['const'])) return prop['const'];
  if (Array.isArray(prop['enum']) && prop['enum'].length === 1 && isPrimitive(prop['enum'][0])) return prop['enum'][0];
  return undefined;
}

function unionExpr(schema: Obj, members: JsonSchema[], ctx: Context, pointer: string): Expr {
  if (members.length === 0) return { code: 'z.never()', forward: false };
  const emitted = members.map((m, i) => emit(m, ctx, `${pointer}/${i}`));
  if (members.length === 1) return emitted[0] as Expr;
  const forward = emitted.some((e) => e.forward);
  const list = emitted.map((e) => e.code).join(', ');
  const resolved = members.map((m) => {
    const target = resolve(m, ctx);
    return isObj(target) && Array.isArray(target['allOf']) ? (mergedAllOf(target, ctx) ?? target) : target;
  });
  const objectMembers = emitted.every((e, i) => !e.forward && (e.isObject || isPlainObjectRef(members[i] as JsonSchema, ctx)));
  if (objectMembers) {
    const candidates = discriminatorOf(schema) !== undefined ? [discriminatorOf(schema) as string] : commonProperties(resolved);
    for (const property of candidates) {
      const values = resolved.map((m) => pinnedValue(m, property));
      if (values.every((v) => v !== undefined) && new Set(values.map((v) => JSON.stringify(v))).size === values.length) {
        return { code: `z.discriminatedUnion(${literal(property)}, [${list}])`, forward: false };
      }
    }
  }
  return { code: `z.union([${list}])`, forward };
}

/** A `$ref` to a named schema that is emitted as a plain object (no nullable/default/combinators). */
function isPlainObjectRef(member: JsonSchema, ctx: Context): boolean {
  if (!isObj(member) || refKey(member) === undefined) return false;
  if (member['nullable'] === true || 'default' in member) return false;
  const target = resolve(member, ctx);
  return isPlainObject(target) || (isObj(target) && mergedAllOf(target, ctx) !== undefined && target['nullable'] !== true && !('default' in target));
}

function isPlainObject(schema: JsonSchema): boolean {
  if (!isObj(schema)) return false;
  if (refKey(schema) !== undefined) return false;
  const types = schema['type'];
  const isObjectType = types === 'object' || (types === undefined && isObj(schema['properties']));
  return isObjectType && !('oneOf' in schema) && !('anyOf' in schema) && !('allOf' in schema) && !('not' in schema) && schema['nullable'] !== true && !('default' in schema) && !('const' in schema) && !('enum' in schema) && isObj(schema['properties']);
}

function commonProperties(members: JsonSchema[]): string[] {
  const first = members[0];
  if (!isObj(first) || !isObj(first['properties'])) return [];
  return Object.keys(first['properties']).filter((p) => members.every((m) => pinnedValue(m, p) !== undefined));
}

/**
 * `allOf` whose members are all plain objects (inline or named, not recursive) as one object schema;
 * `undefined` when they are not. The schema's own properties (next to `allOf`) join in.
 */
function mergedAllOf(schema: Obj, ctx: Context): Obj | undefined {
  const members = schema['allOf'];
  if (!Array.isArray(members) || members.length === 0) return undefined;
  if (['oneOf', 'anyOf', 'not', 'const', 'enum', '$ref'].some((k) => k in schema)) return undefined;
  const own: Obj[] = isObj(schema['properties']) || Array.isArray(schema['required']) ? [{ type: 'object', properties: schema['properties'] ?? {}, required: schema['required'] ?? [] }] : [];
  const resolved = (members as JsonSchema[]).map((m) => (isObj(m) && refKey(m) !== undefined && !isForwardRef(m, ctx) ? resolve(m, ctx) : m));
  const flattened = resolved.map((m) => (isObj(m) && Array.isArray(m['allOf']) ? (mergedAllOf(m, ctx) ?? m) : m));
  const all = [...flattened, ...own];
  if (!all.every((m) => isPlainObject(m) && !hasForwardRefs(m, ctx))) return undefined;
  const merged: Obj = { type: 'object', properties: {}, required: [] as string[] };
  let additional: unknown;
  for (const member of all as Obj[]) {
    Object.assign(merged['properties'] as Obj, member['properties']);
    (merged['required'] as string[]).push(...(Array.isArray(member['required']) ? member['required'] : []));
    if (member['additionalProperties'] === false) additional = false;
    else if (additional === undefined && member['additionalProperties'] !== undefined) additional = member['additionalProperties'];
  }
  merged['required'] = [...new Set(merged['required'] as string[])];
  if (additional !== undefined) merged['additionalProperties'] = additional;
  if (typeof schema['description'] === 'string') merged['description'] = schema['description'];
  return merged;
}

function allOfExpr(members: JsonSchema[], ctx: Context, pointer: string): Expr {
  if (members.length === 0) return { code: 'z.unknown()', forward: false };
  const emitted = members.map((m, i) => emit(m, ctx, `${pointer}/${i}`));
  if (emitted.length === 1) return emitted[0] as Expr;
  return {
    code: emitted.slice(1).reduce((acc, e) => `z.intersection(${acc}, ${e.code})`, (emitted[0] as Expr).code),
    forward: emitted.some((e) => e.forward),
  };
}

function isForwardRef(schema: Obj, ctx: Context): boolean {
  const key = refKey(schema);
  return key !== undefined && !ctx.declared.has(key);
}

function hasForwardRefs(schema: JsonSchema, ctx: Context): boolean {
  return referencedKeys(schema).some((k) => !ctx.declared.has(k));
}
