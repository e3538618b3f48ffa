/**
 * `contractbus diff <old> <new>`: which changes between two versions of a contract break someone.
 * Compares CONTRACT MODELS (generator/model.ts), not documents, so a 2.6 → 3.0 migration that keeps
 * the contract reports nothing, and every change is judged by the direction of its operation:
 *
 * Every schema difference has a polarity: NARROW (the new schema rejects something the old accepted:
 * a field became required, a type/enum/format/pattern/bound got stricter), WIDEN (the new schema
 * accepts something the old rejected, or promises less: a field removed or made optional, an enum
 * value or union variant added, a bound relaxed) or BOTH (an incompatible change: string → number).
 *
 * - The service SENDS (its consumers were built on the old contract): WIDEN breaks them.
 * - The service RECEIVES (its producers were built on the old contract): NARROW breaks them.
 * - BOTH always breaks. A schema used in both directions therefore only changes compatibly if neither.
 *
 * Structural changes (channel/operation/message removed, address, parameters, content type) break in
 * both directions. The table with examples is in docs/contracts-in-ci.md.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ContractLoadError, loadContract } from './load.ts';
import { buildModel } from './model.ts';
import type { ContractModel, MessageModel, OperationModel, ParameterModel } from './model.ts';
import type { JsonSchema } from './schema.ts';

export type Severity = 'breaking' | 'non-breaking';
export type Polarity = 'narrow' | 'widen' | 'both' | 'neutral';

export interface Change {
  /** Stable rule id, e.g. `operation-removed`, `property-required`, `enum-value-removed`. */
  rule: string;
  severity: Severity;
  /** Where: `operation onPayment (receive) › message PaymentEvent › payload.amount.currency`. */
  where: string;
  /** What changed and why it does (not) break, in one sentence. */
  message: string;
  operation?: string;
  direction?: 'send' | 'receive';
}

export interface DiffResult {
  breaking: Change[];
  nonBreaking: Change[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A schema difference before the direction decides whether it breaks. */
interface SchemaDelta {
  rule: string;
  polarity: Polarity;
  at: string;
  text: string;
}

interface SchemaTable {
  byKey: Map<string, JsonSchema>;
  byIdentifier: Map<string, JsonSchema>;
}

function tableOf(model: ContractModel): SchemaTable {
  return {
    byKey: new Map(model.schemas.map((s) => [s.key, s.json])),
    byIdentifier: new Map(model.schemas.map((s) => [s.identifier, s.json])),
  };
}

const REF = '#/components/schemas/';

function resolve(schema: unknown, table: SchemaTable, seen: Set<string>): { schema: unknown; ref: string | undefined } {
  let current = schema;
  let ref: string | undefined;
  while (isObj(current) && typeof current['$ref'] === 'string' && current['$ref'].startsWith(REF)) {
    ref = decodeURIComponent(current['$ref'].slice(REF.length));
    if (seen.has(ref)) break;
    seen.add(ref);
    current = table.byKey.get(ref) ?? {};
  }
  return { schema: current, ref };
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** `type` as a set, `integer` kept distinct from `number` (integer ⊂ number). undefined: any type. */
function typesOf(schema: Obj): Set<string> | undefined {
  const t = schema['type'];
  const out = new Set<string>(typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : []);
  if (schema['nullable'] === true) out.add('null');
  if (out.size === 0) return undefined;
  return out;
}

function enumOf(schema: Obj): unknown[] | undefined {
  if ('const' in schema) return [schema['const']];
  return Array.isArray(schema['enum']) ? schema['enum'] : undefined;
}

const UPPER_BOUNDS = ['maxLength', 'maxItems', 'maximum', 'exclusiveMaximum', 'maxProperties'] as const;
const LOWER_BOUNDS = ['minLength', 'minItems', 'minimum', 'exclusiveMinimum', 'minProperties'] as const;

class SchemaComparer {
  readonly deltas: SchemaDelta[] = [];
  readonly #old: SchemaTable;
  readonly #new: SchemaTable;

  constructor(oldTable: SchemaTable, newTable: SchemaTable) {
    this.#old = oldTable;
    this.#new = newTable;
  }

  #add(rule: string, polarity: Polarity, at: string, text: string): void {
    this.deltas.push({ rule, polarity, at, text });
  }

  /** `stack`: pairs of named schemas being compared above this one (a recursive schema stops there). */
  compare(oldRaw: unknown, newRaw: unknown, at: string, stack: ReadonlySet<string> = new Set()): void {
    const o = resolve(oldRaw, this.#old, new Set());
    const n = resolve(newRaw, this.#new, new Set());
    let inner = stack;
    if (o.ref !== undefined || n.ref !== undefined) {
      const pair = `${o.ref ?? ''}\u0000${n.ref ?? ''}`;
      if (stack.has(pair)) return;
      inner = new Set([...stack, pair]);
    }
    const a: Obj = o.schema === true || o.schema === undefined ? {} : isObj(o.schema) ? o.schema : { not: {} };
    const b: Obj = n.schema === true || n.schema === undefined ? {} : isObj(n.schema) ? n.schema : { not: {} };

    this.#types(a, b, at);
    this.#enums(a, b, at);
    for (const keyword of ['format', 'pattern'] as const) this.#annotation(keyword, a, b, at);
    for (const k of UPPER_BOUNDS) this.#bound(k, a, b, at, 'upper');
    for (const k of LOWER_BOUNDS) this.#bound(k, a, b, at, 'lower');
    if (a['multipleOf'] !== b['multipleOf']) this.#add('multiple-of-changed', a['multipleOf'] === undefined ? 'narrow' : b['multipleOf'] === undefined ? 'widen' : 'both', at, `multipleOf ${show(a['multipleOf'])} → ${show(b['multipleOf'])}`);
    if (show(a['default']) !== show(b['default'])) this.#add('default-changed', 'neutral', at, `default ${show(a['default'])} → ${show(b['default'])}`);
    this.#object(a, b, at, inner);
    if (a['items'] !== undefined || b['items'] !== undefined) this.compare(a['items'] ?? {}, b['items'] ?? {}, `${at}[]`, inner);
    this.#unions(a, b, at, inner);
  }

  #types(a: Obj, b: Obj, at: string): void {
    const ta = typesOf(a);
    const tb = typesOf(b);
    if (ta === undefined && tb === undefined) return;
    if (ta === undefined) {
      this.#add('type-narrowed', 'narrow', at, `now restricted to type ${[...(tb as Set<string>)].join(' | ')}`);
      return;
    }
    if (tb === undefined) {
      this.#add('type-widened', 'widen', at, `no longer restricted to type ${[...ta].join(' | ')}`);
      return;
    }
    const accepts = (set: Set<string>, t: string): boolean => set.has(t) || (t === 'integer' && set.has('number'));
    const removed = [...ta].filter((t) => !accepts(tb, t));
    const added = [...tb].filter((t) => !accepts(ta, t));
    // number → integer: a narrowing, not a removal plus an unrelated addition.
    const narrowedToInteger = removed.includes('number') && tb.has('integer');
    if (removed.length && added.length && !(narrowedToInteger && added.every((t) => t === 'integer'))) {
      this.#add('type-changed', 'both', at, `type ${[...ta].join(' | ')} → ${[...tb].join(' | ')}`);
      return;
    }
    if (removed.length) this.#add('type-narrowed', 'narrow', at, `type ${[...ta].join(' | ')} → ${[...tb].join(' | ')}${narrowedToInteger ? ' (number → integer)' : ''}`);
    else if (added.length) this.#add('type-widened', 'widen', at, `type ${[...ta].join(' | ')} → ${[...tb].join(' | ')}`);
  }

  #enums(a: Obj, b: Obj, at: string): void {
    const ea = enumOf(a);
    const eb = enumOf(b);
    if (ea === undefined && eb === undefined) return;
    if (ea === undefined) return this.#add('enum-added', 'narrow', at, `now limited to ${show(eb)}`);
    if (eb === undefined) return this.#add('enum-removed', 'widen', at, `no longer limited to ${show(ea)}`);
    const keys = (list: unknown[]): Set<string> => new Set(list.map((v) => show(v)));
    const ka = keys(ea);
    const kb = keys(eb);
    const removed = [...ka].filter((v) => !kb.has(v));
    const added = [...kb].filter((v) => !ka.has(v));
    if (removed.length) this.#add('enum-value-removed', 'narrow', at, `value${removed.length > 1 ? 's' : ''} ${removed.join(', ')} removed`);
    if (added.length) this.#add('enum-value-added', 'widen', at, `value${added.length > 1 ? 's' : ''} ${added.join(', ')} added`);
  }

  #annotation(keyword: 'format' | 'pattern', a: Obj, b: Obj, at: string): void {
    const va = a[keyword];
    const vb = b[keyword];
    if (va === vb) return;
    if (va === undefined) this.#add(`${keyword}-added`, 'narrow', at, `gained ${keyword} ${show(vb)}`);
    else if (vb === undefined) this.#add(`${keyword}-removed`, 'widen', at, `lost ${keyword} ${show(va)}`);
    else this.#add(`${keyword}-changed`, 'both', at, `${keyword} ${show(va)} → ${show(vb)}`);
  }

  #bound(keyword: string, a: Obj, b: Obj, at: string, kind: 'upper' | 'lower'): void {
    const va = typeof a[keyword] === 'number' ? (a[keyword] as number) : undefined;
    const vb = typeof b[keyword] === 'number' ? (b[keyword] as number) : undefined;
    if (va === vb) return;
    const tighter = vb !== undefined && (va === undefined || (kind === 'upper' ? vb < va : vb > va));
    this.#add(tighter ? 'constraint-tightened' : 'constraint-relaxed', tighter ? 'narrow' : 'widen', at, `${keyword} ${va ?? '(none)'} → ${vb ?? '(none)'}`);
  }

  #object(a: Obj, b: Obj, at: string, stack: ReadonlySet<string>): void {
    const pa = isObj(a['properties']) ? a['properties'] : undefined;
    const pb = isObj(b['properties']) ? b['properties'] : undefined;
    if (pa === undefined && pb === undefined && a['additionalProperties'] === undefined && b['additionalProperties'] === undefined && a['required'] === undefined && b['required'] === undefined) return;
    const ra = new Set(Array.isArray(a['required']) ? (a['required'] as string[]) : []);
    const rb = new Set(Array.isArray(b['required']) ? (b['required'] as string[]) : []);
    const closedA = a['additionalProperties'] === false;
    const closedB = b['additionalProperties'] === false;
    const propsA = pa ?? {};
    const propsB = pb ?? {};
    const field = (name: string): string => (at === '' ? name : `${at}.${name}`);
    for (const name of Object.keys(propsA)) {
      if (Object.hasOwn(propsB, name)) continue;
      const wasRequired = ra.has(name);
      // Consumers lose a field they may read; producers that still send it are rejected only by a closed object.
      this.#add('property-removed', closedB ? 'both' : 'widen', field(name), `${wasRequired ? 'required ' : ''}field removed${closedB ? ' (the object is closed: messages that still carry it are rejected)' : ''}`);
    }
    for (const name of Object.keys(propsB)) {
      if (Object.hasOwn(propsA, name)) continue;
      if (rb.has(name)) this.#add('property-added-required', closedA ? 'both' : 'narrow', field(name), 'new required field');
      else this.#add('property-added', closedA ? 'widen' : 'neutral', field(name), `new optional field${closedA ? ' (the old object was closed: old consumers reject it)' : ''}`);
    }
    for (const name of Object.keys(propsA)) {
      if (!Object.hasOwn(propsB, name)) continue;
      if (!ra.has(name) && rb.has(name)) this.#add('property-required', 'narrow', field(name), 'field made required');
      if (ra.has(name) && !rb.has(name)) this.#add('property-optional', 'widen', field(name), 'field made optional');
      this.compare(propsA[name], propsB[name], field(name), stack);
    }
    // `required` naming a field without a property schema (allowed by JSON Schema).
    for (const name of rb) if (!ra.has(name) && !Object.hasOwn(propsB, name) && !Object.hasOwn(propsA, name)) this.#add('property-required', 'narrow', field(name), 'field made required');
    for (const name of ra) if (!rb.has(name) && !Object.hasOwn(propsA, name) && !Object.hasOwn(propsB, name)) this.#add('property-optional', 'widen', field(name), 'field made optional');
    const apA = a['additionalProperties'];
    const apB = b['additionalProperties'];
    if (!closedA && closedB) this.#add('object-closed', 'narrow', at || '(root)', 'additionalProperties: false added (unknown fields rejected)');
    else if (closedA && !closedB) this.#add('object-opened', 'widen', at || '(root)', 'additionalProperties: false removed (unknown fields allowed)');
    else if (isObj(apA) || isObj(apB)) this.compare(isObj(apA) ? apA : {}, isObj(apB) ? apB : {}, `${at}{*}`, stack);
  }

  #unions(a: Obj, b: Obj, at: string, stack: ReadonlySet<string>): void {
    for (const keyword of ['oneOf', 'anyOf', 'allOf'] as const) {
      const va = Array.isArray(a[keyword]) ? (a[keyword] as unknown[]) : undefined;
      const vb = Array.isArray(b[keyword]) ? (b[keyword] as unknown[]) : undefined;
      if (va === undefined && vb === undefined) continue;
      if (keyword === 'allOf') {
        const length = Math.max(va?.length ?? 0, vb?.length ?? 0);
        for (let i = 0; i < length; i++) this.compare(va?.[i] ?? {}, vb?.[i] ?? {}, at, stack);
        continue;
      }
      const ida = this.#variantIds(va ?? [], this.#old);
      const idb = this.#variantIds(vb ?? [], this.#new);
      const where = at || '(root)';
      for (const [id, schema] of ida) {
        const other = idb.get(id);
        if (other === undefined) this.#add('variant-removed', 'narrow', where, `${keyword} variant ${id} removed`);
        else this.compare(schema, other, `${at}${at === '' ? '' : '.'}${keyword}[${id}]`, stack);
      }
      for (const id of idb.keys()) if (!ida.has(id)) this.#add('variant-added', 'widen', where, `${keyword} variant ${id} added`);
    }
  }

  /** Variants matched by discriminator value, else by schema name, else by position. */
  #variantIds(variants: unknown[], table: SchemaTable): Map<string, unknown> {
    const out = new Map<string, unknown>();
    variants.forEach((variant, index) => {
      const { schema, ref } = resolve(variant, table, new Set());
      let id: string | undefined;
      if (isObj(schema) && isObj(schema['properties'])) {
        for (const [name, prop] of Object.entries(schema['properties'])) {
          if (isObj(prop) && 'const' in prop) {
            id = `${name}=${show(prop['const'])}`;
            break;
          }
        }
      }
      id ??= ref ?? `#${index}`;
      out.set(out.has(id) ? `${id}#${index}` : id, variant);
    });
    return out;
  }
}

function severityFor(polarity: Polarity, direction: 'send' | 'receive'): Severity {
  if (polarity === 'both') return 'breaking';
  if (polarity === 'neutral') return 'non-breaking';
  if (direction === 'send') return polarity === 'widen' ? 'breaking' : 'non-breaking';
  return polarity === 'narrow' ? 'breaking' : 'non-breaking';
}

function reason(polarity: Polarity, direction: 'send' | 'receive', severity: Severity): string {
  if (polarity === 'neutral') return 'compatible';
  if (polarity === 'both') return 'incompatible in both directions';
  if (direction === 'send') {
    return severity === 'breaking' ? 'consumers built on the old contract may receive messages they reject or lack data they read' : 'consumers still get what the old contract promised';
  }
  return severity === 'breaking' ? 'producers built on the old contract may send messages this service now rejects' : 'everything the old contract allowed is still accepted';
}

function opLabel(op: OperationModel): string {
  return `operation ${op.id} (${op.action})`;
}

function structural(rule: string, where: string, message: string, severity: Severity, op?: OperationModel): Change {
  const change: Change = { rule, severity, where, message };
  if (op) {
    change.operation = op.id;
    change.direction = op.action;
  }
  return change;
}

function compareParameters(oldParams: ParameterModel[], newParams: ParameterModel[], where: string, op: OperationModel): Change[] {
  const out: Change[] = [];
  const byName = (list: ParameterModel[]): Map<string, ParameterModel> => new Map(list.map((p) => [p.name, p]));
  const a = byName(oldParams);
  const b = byName(newParams);
  for (const name of a.keys()) if (!b.has(name)) out.push(structural('parameter-removed', `${where} › parameter ${name}`, 'channel parameter removed: topics built or matched with it change', 'breaking', op));
  for (const name of b.keys()) if (!a.has(name)) out.push(structural('parameter-added', `${where} › parameter ${name}`, 'channel parameter added: topics built or matched without it change', 'breaking', op));
  for (const [name, p] of a) {
    const q = b.get(name);
    if (q && show(p.schema) !== show(q.schema)) out.push(structural('parameter-changed', `${where} › parameter ${name}`, `parameter schema ${show(p.schema)} → ${show(q.schema)}`, 'breaking', op));
  }
  return out;
}

/** Breaking and non-breaking changes from `oldModel` to `newModel`, judged per operation direction. */
export function diffContracts(oldModel: ContractModel, newModel: ContractModel): DiffResult {
  const changes: Change[] = [];
  const oldTable = tableOf(oldModel);
  const newTable = tableOf(newModel);
  const newOps = new Map(newModel.operations.map((o) => [o.id, o]));
  const oldOps = new Map(oldModel.operations.map((o) => [o.id, o]));
  const oldMessages = new Map(oldModel.messages.map((m) => [m.key, m]));
  const newMessages = new Map(newModel.messages.map((m) => [m.key, m]));
  const oldChannels = new Map(oldModel.channels.map((c) => [c.address, c]));
  const newChannels = new Map(newModel.channels.map((c) => [c.address, c]));
  const movedFrom = new Set<string>();

  for (const op of oldModel.operations) {
    const next = newOps.get(op.id);
    const where = opLabel(op);
    if (!next) {
      changes.push(structural('operation-removed', where, `operation removed (${op.action === 'send' ? 'consumers stop getting its messages' : 'producers\u2019 messages are no longer handled'})`, 'breaking', op));
      continue;
    }
    if (next.action !== op.action) {
      changes.push(structural('operation-action-changed', where, `action ${op.action} → ${next.action}`, 'breaking', op));
      continue;
    }
    if (next.address !== op.address) {
      movedFrom.add(op.address);
      changes.push(structural('address-changed', where, `address ${show(op.address)} → ${show(next.address)}: the other side still uses the old topic`, 'breaking', op));
    }
    const oldChannel = oldChannels.get(op.address);
    const newChannel = newChannels.get(next.address);
    if (oldChannel && newChannel) changes.push(...compareParameters(oldChannel.parameters, newChannel.parameters, where, op));

    for (const key of op.messages) {
      const mWhere = `${where} › message ${key}`;
      if (!next.messages.includes(key)) {
        changes.push(structural('message-removed', mWhere, 'message removed from the operation', 'breaking', op));
        continue;
      }
      const om = oldMessages.get(key) as MessageModel;
      const nm = newMessages.get(key) as MessageModel;
      if (om.contentType !== nm.contentType) changes.push(structural('content-type-changed', mWhere, `content type ${show(om.contentType)} → ${show(nm.contentType)}`, 'breaking', op));
      if (show(om.correlationId) !== show(nm.correlationId)) changes.push(structural('correlation-id-changed', mWhere, `correlation id ${show(om.correlationId?.location)} → ${show(nm.correlationId?.location)}`, 'breaking', op));
      for (const part of ['payload', 'headers'] as const) {
        const comparer = new SchemaComparer(oldTable, newTable);
        const schemaOf = (m: MessageModel, table: SchemaTable): unknown => {
          const id = part === 'payload' ? m.payloadSchema : m.headersSchema;
          // No headers schema: any headers.
          return id === undefined ? {} : (table.byIdentifier.get(id) ?? {});
        };
        comparer.compare(schemaOf(om, oldTable), schemaOf(nm, newTable), '');
        for (const d of comparer.deltas) {
          const severity = severityFor(d.polarity, op.action);
          changes.push({
            rule: d.rule,
            severity,
            where: `${mWhere} › ${part}${d.at === '' || d.at === '(root)' ? '' : `.${d.at}`}`,
            message: `${d.text}: ${reason(d.polarity, op.action, severity)}`,
            operation: op.id,
            direction: op.action,
          });
        }
      }
    }
    for (const key of next.messages) {
      if (op.messages.includes(key)) continue;
      const breaking = op.action === 'send';
      changes.push(
        structural(
          'message-added',
          `${where} › message ${key}`,
          breaking ? 'new message on a channel the service sends to: consumers built on the old contract reject it' : 'the service now also accepts this message',
          breaking ? 'breaking' : 'non-breaking',
          op,
        ),
      );
    }
  }
  if (oldModel.title !== newModel.title) {
    // Not a wire change, but the generated folder, factory and type names follow the title.
    changes.push(structural('title-changed', 'info.title', `${show(oldModel.title)} → ${show(newModel.title)}: the generated code moves from ${oldModel.slug}/ to ${newModel.slug}/ and its names (${oldModel.clientFactory} → ${newModel.clientFactory}) change; imports need updating`, 'non-breaking'));
  }
  for (const op of newModel.operations) {
    if (!oldOps.has(op.id)) changes.push(structural('operation-added', opLabel(op), `new operation (${op.action} on ${show(op.address)})`, 'non-breaking', op));
  }
  for (const address of oldChannels.keys()) {
    if (!newChannels.has(address) && !movedFrom.has(address)) changes.push(structural('channel-removed', `channel ${show(address)}`, 'channel removed', 'breaking'));
  }
  for (const address of newChannels.keys()) {
    if (!oldChannels.has(address)) changes.push(structural('channel-added', `channel ${show(address)}`, 'new channel', 'non-breaking'));
  }
  return { breaking: changes.filter((c) => c.severity === 'breaking'), nonBreaking: changes.filter((c) => c.severity === 'non-breaking') };
}

// ───────────────────────── command ─────────────────────────

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export const DIFF_HELP = `contractbus diff <old> <new> [--json] [--fail-on breaking|any|none]

Compares two versions of a contract (AsyncAPI 2.6 or 3.x, in any combination) and lists breaking and
non-breaking changes, judged by direction: for what the service sends, its consumers must still accept
every message; for what it receives, its producers' messages must still be accepted.

Options:
      --json              machine-readable output: { old, new, breaking: Change[], nonBreaking: Change[] }
      --fail-on <level>   breaking (default): exit 1 on breaking changes; any: on any change; none: never
  -h, --help

Exit codes: 0 nothing to fail on, 1 changes that fail (per --fail-on), 2 usage error or a contract that
cannot be read.`;

async function loadModel(file: string): Promise<ContractModel> {
  const loaded = await loadContract(file);
  return buildModel(loaded.document);
}

function line(c: Change, mark: string): string {
  return `  ${mark} ${c.where}: ${c.message}  [${c.rule}]`;
}

export async function runDiffCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  let values: { json?: boolean; 'fail-on'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'boolean' }, 'fail-on': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    io.err(`contractbus diff: ${(error as Error).message}\n\n${DIFF_HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(DIFF_HELP);
    return 0;
  }
  const failOn = values['fail-on'] ?? 'breaking';
  if (failOn !== 'breaking' && failOn !== 'any' && failOn !== 'none') {
    io.err(`contractbus diff: --fail-on must be breaking, any or none (got ${show(failOn)})`);
    return 2;
  }
  if (positionals.length !== 2) {
    io.err(`contractbus diff: needs exactly two contracts, the old and the new (got ${positionals.length})\n\n${DIFF_HELP}`);
    return 2;
  }
  const [oldFile, newFile] = positionals as [string, string];
  const models: ContractModel[] = [];
  for (const [label, file] of [['old', oldFile], ['new', newFile]] as const) {
    try {
      models.push(await loadModel(file));
    } catch (error) {
      const text = error instanceof ContractLoadError || (error instanceof Error && ['ContractModelError', 'SchemaEmitError'].includes(error.name)) ? error.message : `internal error: ${(error as Error).message}`;
      io.err(`contractbus diff: cannot read the ${label} contract ${file}:\n${text}`);
      if (label === 'old') io.err(`(in CI the old contract usually comes from the main branch: see docs/contracts-in-ci.md; a contract with $refs to other files needs those files too)`);
      return 2;
    }
  }
  const [oldModel, newModel] = models as [ContractModel, ContractModel];
  const result = diffContracts(oldModel, newModel);
  const failed = failOn === 'none' ? false : failOn === 'any' ? result.breaking.length + result.nonBreaking.length > 0 : result.breaking.length > 0;
  if (values.json) {
    const describe = (m: ContractModel, file: string): Obj => ({ file, title: m.title, version: m.version, asyncapi: m.specVersion });
    io.out(JSON.stringify({ old: describe(oldModel, oldFile), new: describe(newModel, newFile), breaking: result.breaking, nonBreaking: result.nonBreaking, failed }, null, 2));
    return failed ? 1 : 0;
  }
  const rel = (f: string): string => path.relative(process.cwd(), path.resolve(f)) || f;
  io.out(`${oldModel.title} ${oldModel.version} (AsyncAPI ${oldModel.specVersion}, ${rel(oldFile)}) → ${newModel.title} ${newModel.version} (AsyncAPI ${newModel.specVersion}, ${rel(newFile)})`);
  if (result.breaking.length === 0 && result.nonBreaking.length === 0) {
    io.out('No contract changes.');
    return 0;
  }
  if (result.breaking.length) {
    io.out(`\nBreaking changes (${result.breaking.length}):`);
    for (const c of result.breaking) io.out(line(c, '✗'));
  }
  if (result.nonBreaking.length) {
    io.out(`\nNon-breaking changes (${result.nonBreaking.length}):`);
    for (const c of result.nonBreaking) io.out(line(c, '✓'));
  }
  const major = (v: string): string => v.split('.')[0] ?? v;
  if (result.breaking.length && major(oldModel.version) === major(newModel.version)) {
    io.out(`\nHint: breaking changes without a new major info.version (${oldModel.version} → ${newModel.version}): bump it, or keep the old shape alongside the new one until every consumer and producer moved.`);
  }
  io.out(`\n${result.breaking.length} breaking, ${result.nonBreaking.length} non-breaking${failed ? ` → exit 1 (--fail-on ${failOn})` : ''}`);
  return failed ? 1 : 0;
}
