/**
 * Named schemas out of the parser's resolved (possibly cyclic) schema graph: which schemas get a name,
 * and the acyclic JSON (with `$ref`s between named schemas) the emitter works on.
 */
import { pascalCase } from './names.ts';
import { REF_PREFIX } from './schema.ts';
import type { JsonSchema } from './schema.ts';

export type SchemaRole = 'named' | 'payload' | 'headers' | 'parameters' | 'union';

export type Obj = Record<string, unknown>;
export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys the parser adds (`x-parser-*`): not part of the contract. */
export function isParserKey(key: string): boolean {
  return key.startsWith('x-parser-');
}

/** Deep copy without parser annotations; plain data only. */
export function clean(value: unknown, seen = new Set<unknown>()): unknown {
  if (Array.isArray(value)) return value.map((v) => clean(v, seen));
  if (!isObj(value)) return value;
  if (seen.has(value)) return {};
  seen.add(value);
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) if (!isParserKey(k) && v !== undefined) out[k] = clean(v, seen);
  seen.delete(value);
  return out;
}

const IDENTIFIER_LIKE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Collects named schemas from the parser's resolved (possibly cyclic) schema graph and rewrites
 * references to them as `$ref`s. A schema is named when it is a component schema, has an
 * identifier-like `title`, or closes a cycle.
 */
export class SchemaCollector {
  readonly named = new Map<string, { json: JsonSchema; role: SchemaRole; order: number }>();
  /** Where each named schema came from in the document, for error messages. */
  readonly origins = new Map<string, string>();
  private readonly byObject = new Map<object, string>();
  private counter = 0;

  nameOf(node: Obj): string | undefined {
    const id = node['x-parser-schema-id'];
    if (typeof id === 'string' && !id.startsWith('<') && IDENTIFIER_LIKE.test(id)) return id;
    const title = node['title'];
    if (typeof title === 'string' && IDENTIFIER_LIKE.test(title)) return title;
    return undefined;
  }

  /** Registers `node` under `preferredKey` (or its own name) and returns its key. */
  register(node: unknown, preferredKey: string, role: SchemaRole, origin?: string): string {
    const key = this.registerInner(node, preferredKey, role);
    if (origin !== undefined && !this.origins.has(key)) this.origins.set(key, origin);
    return key;
  }

  private registerInner(node: unknown, preferredKey: string, role: SchemaRole): string {
    if (!isObj(node)) {
      const key = this.uniqueKey(preferredKey, JSON.stringify(node));
      this.named.set(key, { json: node === false ? false : true, role, order: this.counter++ });
      return key;
    }
    const existing = this.byObject.get(node);
    if (existing) return existing;
    const key0 = this.nameOf(node) ?? preferredKey;
    const stack = new Set<object>([node]);
    const placeholder = `__pending_${this.counter}`;
    this.byObject.set(node, placeholder);
    const json = this.convert(node, stack, true);
    const text = JSON.stringify(json);
    const key = this.uniqueKey(key0, text);
    this.byObject.set(node, key);
    if (!this.named.has(key)) this.named.set(key, { json, role, order: this.counter++ });
    this.fixPlaceholder(placeholder, key);
    return key;
  }

  private pendingRefs: Array<{ holder: Obj; placeholder: string }> = [];

  private fixPlaceholder(placeholder: string, key: string): void {
    for (const ref of this.pendingRefs) if (ref.holder['$ref'] === `${REF_PREFIX}${placeholder}`) ref.holder['$ref'] = `${REF_PREFIX}${key}`;
  }

  /** Same name, same content → same key; same name, other content → numbered. */
  private uniqueKey(base: string, content: string): string {
    for (let i = 1; ; i++) {
      const key = i === 1 ? base : `${base}${i}`;
      const existing = this.named.get(key);
      if (!existing || JSON.stringify(existing.json) === content) return key;
    }
  }

  private convert(node: unknown, stack: Set<object>, isRoot: boolean): JsonSchema {
    if (typeof node === 'boolean') return node;
    if (!isObj(node)) return true;
    if (!isRoot) {
      const known = this.byObject.get(node);
      if (known) {
        const holder: Obj = { $ref: `${REF_PREFIX}${known}` };
        if (known.startsWith('__pending_')) this.pendingRefs.push({ holder, placeholder: known });
        return holder;
      }
      if (stack.has(node) || this.nameOf(node) !== undefined) {
        const key = this.register(node, `Recursive${pascalCase(String(node['x-parser-schema-id'] ?? 'Schema'))}`, 'named');
        return { $ref: `${REF_PREFIX}${key}` };
      }
    }
    stack.add(node);
    const out: Obj = {};
    for (const [k, v] of Object.entries(node)) {
      if (isParserKey(k)) continue;
      if (k === 'properties' || k === 'patternProperties' || k === 'definitions' || k === '$defs' || k === 'dependentSchemas') {
        if (isObj(v)) {
          const props: Obj = {};
          for (const [name, sub] of Object.entries(v)) props[name] = this.convert(sub, stack, false);
          out[k] = props;
        }
      } else if (k === 'items' || k === 'additionalProperties' || k === 'additionalItems' || k === 'not' || k === 'contains' || k === 'propertyNames' || k === 'if' || k === 'then' || k === 'else') {
        out[k] = Array.isArray(v) ? v.map((s) => this.convert(s, stack, false)) : typeof v === 'boolean' ? v : this.convert(v, stack, false);
      } else if (k === 'oneOf' || k === 'anyOf' || k === 'allOf' || k === 'prefixItems') {
        out[k] = Array.isArray(v) ? v.map((s) => this.convert(s, stack, false)) : v;
      } else {
        out[k] = clean(v);
      }
    }
    stack.delete(node);
    return out;
  }
}
