/**
 * Reads an AsyncAPI document (2.6 or 3.x, YAML or JSON, with `$ref`s to other files resolved relative
 * to it) through @asyncapi/parser, and turns every way that can fail into one `ContractLoadError`
 * carrying file, line:column and a readable message. Never a stack trace for bad input.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface, Diagnostic } from '@asyncapi/parser';

export interface Problem {
  severity: 'error' | 'warning' | 'info' | 'hint';
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  column: number;
  message: string;
  code?: string;
  /** JSON path inside the document, e.g. `channels.orders.messages`. */
  path?: string;
}

export class ContractLoadError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n') || 'invalid AsyncAPI document');
    this.name = 'ContractLoadError';
    this.problems = problems;
  }
}

export function formatProblem(problem: Problem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  const at = problem.path ? ` (at ${problem.path})` : '';
  return `${where} ${problem.severity}: ${problem.message}${at}`;
}

export interface LoadedContract {
  document: AsyncAPIDocumentInterface;
  /** Absolute path of the main document. */
  file: string;
  /** The main document and every local file it `$ref`s (for --watch). */
  files: string[];
  /** Warnings and infos from the parser's rules (errors throw). */
  problems: Problem[];
}

// Keys that make @asyncapi/parser 3.6 misbehave, measured: `__proto__` is swallowed by its YAML loader
// (followed by misleading schema errors), `hasOwnProperty` crashes its $ref resolver (a stack trace as
// diagnostic). Refuse them up front with their location. `constructor`, `toString`, … parse fine.
const POISONED_KEYS = ['__proto__', 'hasOwnProperty'];

// Generation needs the core rules only (spec validity); `validate` also runs the recommended style
// rules (contact, license, tags…), which cost about a quarter of the parse time on large documents.
const parsers = new Map<boolean, Parser>();
function parser(recommended: boolean): Parser {
  let instance = parsers.get(recommended);
  if (!instance) {
    // No resolver cache: --watch must see edits of $ref-ed files on the next load.
    instance = new Parser({ ruleset: { recommended }, __unstable: { resolver: { cache: false } } });
    parsers.set(recommended, instance);
  }
  return instance;
}

export interface LoadOptions {
  /** Also run the parser's recommended (style) rules: warnings only. Default false. */
  recommendedRules?: boolean;
}

export async function loadContract(specPath: string, options: LoadOptions = {}): Promise<LoadedContract> {
  const file = path.resolve(specPath);
  const display = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected an AsyncAPI file' : (error as Error).message;
    throw new ContractLoadError([{ severity: 'error', file: display, line: 0, column: 0, message: `cannot read the AsyncAPI document: ${reason}` }]);
  }
  const files = [file, ...(await referencedFiles(file, text))];
  for (const f of files) {
    const source = f === file ? text : await readFile(f, 'utf8').catch(() => undefined);
    if (source === undefined) {
      throw new ContractLoadError([{ severity: 'error', file: display, ...locate(text, path.basename(f)), message: `cannot resolve $ref: file ${JSON.stringify(path.relative(path.dirname(file), f))} not found` }]);
    }
    const poisoned = findPoisonedKey(source);
    if (poisoned) {
      throw new ContractLoadError([{ severity: 'error', file: path.relative(process.cwd(), f) || f, line: poisoned.line, column: poisoned.column, message: `the key ${JSON.stringify(poisoned.key)} is not supported (it collides with JavaScript object internals); rename it` }]);
    }
  }

  let result: { document: AsyncAPIDocumentInterface | undefined; diagnostics: Diagnostic[] };
  try {
    result = await parser(options.recommendedRules ?? false).parse(text, { source: file });
  } catch (error) {
    throw new ContractLoadError([{ severity: 'error', file: display, line: 0, column: 0, message: `the AsyncAPI parser failed: ${firstLine(error)}` }]);
  }
  let problems = await Promise.all(result.diagnostics.map((d) => relocateRefProblem(toProblem(d, file), files)));
  // After the first YAML syntax error the rest are cascades of it: report that one.
  const syntaxError = problems.find((p) => p.severity === 'error' && p.code === 'parser');
  if (syntaxError) problems = [syntaxError];
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 || !result.document) {
    throw new ContractLoadError(errors.length ? problems : [{ severity: 'error', file: display, line: 0, column: 0, message: 'not a valid AsyncAPI document' }]);
  }
  const reserved = findReservedName(result.document.json(), text);
  if (reserved) throw new ContractLoadError([{ severity: 'error', file: display, ...reserved.at, path: reserved.path, message: `the name ${JSON.stringify(reserved.key)} collides with JavaScript object internals and the AsyncAPI parser mishandles it here (the ${reserved.kind} is silently lost); rename it` }]);
  return { document: result.document, file, files, problems };
}

const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype));
/** Subtrees whose keys are data (property names, example values), where such names are fine. */
const DATA_KEYS = new Set(['properties', 'examples', 'example', 'default', 'const', 'enum', 'bindings', 'payload', 'headers', 'schemas']);

/**
 * Operation, channel, message, … keys named like `Object.prototype` members (`constructor`,
 * `toString`) make the parser drop the referenced object. Schema property names are fine.
 */
function findReservedName(json: unknown, text: string): { key: string; path: string; kind: string; at: { line: number; column: number } } | undefined {
  const seen = new Set<unknown>();
  const walk = (node: unknown, trail: string[]): ReturnType<typeof findReservedName> => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return undefined;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const item of node) {
        const hit = walk(item, trail);
        if (hit) return hit;
      }
      return undefined;
    }
    for (const key of Object.keys(node)) {
      const parent = trail[trail.length - 1];
      if (OBJECT_MEMBERS.has(key) && parent !== undefined && ['operations', 'channels', 'messages', 'parameters', 'servers', 'securitySchemes', 'correlationIds', 'replies', 'replyAddresses', 'tags', 'externalDocs', 'operationTraits', 'messageTraits', 'serverVariables', 'channelBindings', 'operationBindings', 'messageBindings', 'serverBindings'].includes(parent)) {
        const kind = parent === 'messages' ? 'message' : parent === 'operations' ? 'operation' : parent === 'channels' ? 'channel' : parent.replace(/s$/, '');
        return { key, path: [...trail, key].join('.'), kind, at: locate(text, `${key}:`) };
      }
      if (DATA_KEYS.has(key) && parent !== 'components') continue;
      const hit = walk((node as Record<string, unknown>)[key], [...trail, key]);
      if (hit) return hit;
    }
    return undefined;
  };
  return walk(json, []);
}

/** Validation only (the `validate` command): every diagnostic, sorted, no throw for an invalid spec. */
export async function validateContract(specPath: string): Promise<{ ok: boolean; problems: Problem[] }> {
  try {
    const loaded = await loadContract(specPath, { recommendedRules: true });
    return { ok: true, problems: loaded.problems };
  } catch (error) {
    if (error instanceof ContractLoadError) return { ok: false, problems: error.problems };
    throw error;
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

const SEVERITY: Record<number, Problem['severity']> = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

function toProblem(d: Diagnostic, mainFile: string): Problem {
  const source = d.source ? (d.source.startsWith('file://') ? new URL(d.source).pathname : d.source) : mainFile;
  const file = path.relative(process.cwd(), path.resolve(source)) || source;
  const problem: Problem = {
    severity: SEVERITY[d.severity] ?? 'error',
    file,
    line: d.range ? d.range.start.line + 1 : 0,
    column: d.range ? d.range.start.character + 1 : 0,
    message: d.message.split('\n')[0] ?? d.message,
    code: String(d.code),
  };
  if (d.path.length) problem.path = d.path.map(String).join('.');
  return problem;
}

/**
 * The parser reports a broken `$ref` inside a referenced file against the main document at 1:1.
 * Find the reference text in the document or its referenced files and point there instead.
 */
async function relocateRefProblem(problem: Problem, files: string[]): Promise<Problem> {
  if (problem.code !== 'invalid-ref' || problem.line > 1) return problem;
  const ref = /^'([^']+)' does not exist/.exec(problem.message)?.[1];
  if (!ref) return problem;
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const at = locate(text, ref);
    if (at.line > 0) return { ...problem, file: path.relative(process.cwd(), f) || f, line: at.line, column: at.column };
  }
  return problem;
}

/** Local files reachable through `$ref`s (recursively), so --watch can follow them. */
async function referencedFiles(file: string, text: string, seen = new Set<string>([file])): Promise<string[]> {
  const out: string[] = [];
  const refPattern = /["']?\$ref["']?\s*:\s*["']?([^"'\s#,}]+)(?:#[^"'\s,}]*)?["']?/g;
  for (const match of text.matchAll(refPattern)) {
    const target = match[1];
    if (!target || /^[a-z][a-z0-9+.-]*:\/\//i.test(target)) continue;
    const resolved = path.resolve(path.dirname(file), decodeURIComponent(target));
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    out.push(resolved);
    const nested = await readFile(resolved, 'utf8').catch(() => undefined);
    if (nested !== undefined) out.push(...(await referencedFiles(resolved, nested, seen)));
  }
  return out;
}

function locate(text: string, needle: string): { line: number; column: number } {
  const index = text.indexOf(needle);
  if (index < 0) return { line: 0, column: 0 };
  const before = text.slice(0, index).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

/** A mapping key (YAML `key:` or JSON `"key":`) that is one of the poisoned names. */
const POISONED_PATTERNS = POISONED_KEYS.map((key) => ({ key, pattern: new RegExp(`(^|[\\s{,\\-])(["']?)${key}\\2\\s*:(\\s|$)`) }));

function findPoisonedKey(text: string): { key: string; line: number; column: number } | undefined {
  if (!POISONED_KEYS.some((key) => text.includes(key))) return undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    for (const { key, pattern } of POISONED_PATTERNS) {
      const match = pattern.exec(line);
      if (match) return { key, line: i + 1, column: match.index + (match[1]?.length ?? 0) + 1 };
    }
  }
  return undefined;
}
