/**
 * Everything that turns contract text into source text goes through here, so a hostile spec
 * (keywords, quotes, `*\/`, newlines, `__proto__`, path separators) can never inject code or
 * escape the output folder.
 */

const RESERVED_WORDS = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else',
  'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof',
  'new', 'null', 'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void',
  'while', 'with', 'as', 'implements', 'interface', 'let', 'package', 'private', 'protected', 'public',
  'static', 'yield', 'any', 'boolean', 'number', 'string', 'symbol', 'unknown', 'never', 'object',
  'bigint', 'undefined', 'await', 'async', 'type', 'declare', 'module', 'namespace', 'require', 'of',
  'get', 'set', 'from', 'keyof', 'readonly', 'infer', 'is', 'asserts', 'satisfies', 'accessor',
  'arguments', 'eval', 'abstract', 'constructor', 'override', 'out', 'global', 'using',
]);

/** Names the generated modules use themselves; a contract schema must not shadow them. */
const RESERVED_GLOBALS = new Set([
  'z', 'Object', 'Array', 'Set', 'Map', 'JSON', 'RegExp', 'String', 'Number', 'Boolean', 'Symbol', 'Date',
  'Error', 'Promise', 'Record', 'Partial', 'Readonly', 'Required', 'Pick', 'Omit', 'Exclude', 'Extract',
  'NaN', 'Infinity', 'Function', 'Math', 'BigInt', 'Proxy', 'Reflect', 'WeakMap', 'WeakSet', 'globalThis',
  'Headers', 'Uint8Array', 'ArrayBuffer', 'URL', 'Iterable', 'PromiseLike', 'NonNullable', 'ReturnType',
  'Parameters', 'Awaited', 'PropertyKey',
]);

/** Own or inherited members of a plain object: unsafe as property names of the generated client. */
const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype).concat(['__proto__', 'prototype', 'then']));

/** Splits any text into alphanumeric words (unicode letters kept when they are valid identifier parts). */
function words(text: string): string[] {
  const spaced = text
    .normalize('NFKC')
    .replace(/([\p{Ll}\p{Nd}])(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2');
  return spaced.split(/[^\p{L}\p{Nd}]+/u).filter((w) => w.length > 0);
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function isIdentifierText(text: string): boolean {
  return /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u.test(text);
}

/** `order status-changed` → `OrderStatusChanged`; never empty, never starts with a digit. */
export function pascalCase(text: string, fallback = 'Unnamed'): string {
  const parts = words(text);
  let name = parts.map((w) => (/^\p{Lu}+$/u.test(w) && w.length > 1 ? capitalise(w.toLowerCase()) : capitalise(w))).join('');
  if (/^\p{Nd}/u.test(name)) name = `_${name}`;
  if (!name || !isIdentifierText(name)) name = fallback;
  return name;
}

/** `publish order-status` → `publishOrderStatus`. */
export function camelCase(text: string, fallback = 'unnamed'): string {
  const pascal = pascalCase(text, '');
  if (!pascal) return fallback;
  if (pascal.startsWith('_')) return pascal;
  const leadingUpper = /^\p{Lu}+(?=\p{Lu}\p{Ll}|\p{Nd}|$)/u.exec(pascal)?.[0] ?? pascal.charAt(0);
  return leadingUpper.toLowerCase() + pascal.slice(leadingUpper.length);
}

/** Makes `candidate` a safe, unique top-level identifier; `taken` is updated. Deterministic for a given order of calls. */
export function uniqueIdentifier(candidate: string, taken: Set<string>): string {
  let base = candidate;
  if (RESERVED_WORDS.has(base) || RESERVED_GLOBALS.has(base) || OBJECT_MEMBERS.has(base)) base = `${base}_`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}${i}`;
  taken.add(name);
  return name;
}

/** Same as `uniqueIdentifier` for the client's method names (object members). */
export function uniqueMemberName(candidate: string, taken: Set<string>): string {
  return uniqueIdentifier(candidate, taken);
}

/** A string literal for generated source: JSON is valid JS, and escapes quotes, backslashes and line breaks. */
export function literal(value: string): string {
  return JSON.stringify(value);
}

/** A property key in an object literal or type: bare when safe, quoted otherwise; `__proto__` stays an own property. */
export function propertyKey(name: string): string {
  if (name === '__proto__') return '["__proto__"]';
  if (isIdentifierText(name)) return name;
  return JSON.stringify(name);
}

/** Body of a JSDoc block: `*\/` cannot close the comment, line breaks stay inside it. */
export function jsDocLines(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\*\//g, '*\\/')
    .replace(/[\u2028\u2029]/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd());
}

/** A full JSDoc block with the given indentation, or '' when there is nothing to say. */
export function jsDoc(text: string | undefined, indent = ''): string {
  const lines = jsDocLines(text);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

/** A file or folder name: lowercase ASCII words joined by '-', no separators, no dots, never empty. */
export function fileSlug(text: string, fallback = 'contract'): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/g, '');
  return slug || fallback;
}

/** A JSON value as a TS/JS expression; unlike raw JSON, a `__proto__` key stays an own property. */
export function valueLiteral(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(valueLiteral).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{ ${entries.map(([k, v]) => `${propertyKey(k)}: ${valueLiteral(v)}`).join(', ')} }`;
}

/** `valueLiteral` with one array element per line (for readable generated tables). */
export function listLiteral(values: unknown[], indent: string): string {
  if (values.length === 0) return '[]';
  return `[\n${values.map((v) => `${indent}  ${valueLiteral(v)},`).join('\n')}\n${indent}]`;
}
