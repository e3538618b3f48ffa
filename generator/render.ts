/**
 * Contract model → generated files, in memory. Handlebars with `noEscape` (it would HTML-escape `<`, `'`)
 * and `strict` (a misspelt variable fails instead of rendering empty). Templates stay dumb: every name
 * and literal comes from the model. A user template folder overrides per file, falling back to ours.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { ContractModel } from './model.ts';
import { camelCase, jsDoc, literal, pascalCase, valueLiteral } from './names.ts';

export interface GeneratedFile {
  /** Relative to the output folder, '/'-separated, e.g. `shop/client.ts`. */
  path: string;
  contents: string;
}

export interface RenderOptions {
  /** A folder of `<file>.hbs` templates that replace the built-in ones of the same name. */
  templatesDir?: string;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The built-in templates: `<package>/templates`, from the sources and from dist/ alike. */
export function builtInTemplatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.resolve(here, '../templates'), path.resolve(here, '../../templates')]) {
    if (existsSync(path.join(candidate, 'client.ts.hbs'))) return candidate;
  }
  throw new TemplateError(`built-in templates not found next to ${here}`);
}

const TEMPLATE_FILES = ['schemas.ts', 'client.ts', 'index.ts', 'fixtures.ts', 'mirror.ts'] as const;

type Compiled = Handlebars.TemplateDelegate<ContractModel>;
const compiledCache = new Map<string, Compiled>();

function compile(file: string, source: string): Compiled {
  const cacheKey = `${file}\u0000${source}`;
  const hit = compiledCache.get(cacheKey);
  if (hit) return hit;
  const hb = Handlebars.create();
  registerHelpers(hb);
  try {
    const template = hb.compile<ContractModel>(source, { noEscape: true, strict: true });
    compiledCache.set(cacheKey, template);
    return template;
  } catch (error) {
    throw new TemplateError(`${file}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * For custom templates: the built-in ones need none of these (the model carries every literal), but a
 * user template that prints other model fields must go through them to stay injection-safe.
 */
function registerHelpers(hb: typeof Handlebars): void {
  hb.registerHelper('literal', (value: unknown) => literal(String(value)));
  hb.registerHelper('json', (value: unknown) => valueLiteral(value));
  hb.registerHelper('pascal', (value: unknown) => pascalCase(String(value)));
  hb.registerHelper('camel', (value: unknown) => camelCase(String(value)));
  hb.registerHelper('jsdoc', (value: unknown) => jsDoc(value === undefined || value === null ? undefined : String(value)));
}

function templateSource(name: string, options: RenderOptions): { file: string; source: string } {
  if (options.templatesDir) {
    const custom = path.resolve(options.templatesDir, `${name}.hbs`);
    if (existsSync(custom)) return { file: custom, source: readFileSync(custom, 'utf8') };
  }
  const builtIn = path.join(builtInTemplatesDir(), `${name}.hbs`);
  return { file: builtIn, source: readFileSync(builtIn, 'utf8') };
}

export function renderContract(model: ContractModel, options: RenderOptions = {}): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  const wanted: Record<(typeof TEMPLATE_FILES)[number], string | undefined> = {
    'schemas.ts': model.files.schemas,
    'client.ts': model.files.client,
    'index.ts': model.files.index,
    'fixtures.ts': model.files.fixtures,
    'mirror.ts': model.files.mirror,
  };
  for (const name of TEMPLATE_FILES) {
    const outName = wanted[name];
    if (outName === undefined) continue;
    const { file, source } = templateSource(name, options);
    let contents: string;
    try {
      contents = compile(file, source)(model);
    } catch (error) {
      throw new TemplateError(`${file}: ${(error as Error).message.split('\n')[0]}`);
    }
    files.push({ path: `${model.slug}/${outName}`, contents: tidy(contents) });
  }
  return files;
}

/** Collapses the blank lines block helpers leave behind; one trailing newline. */
function tidy(text: string): string {
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
