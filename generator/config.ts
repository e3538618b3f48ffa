/**
 * `contractbus.config.json` (or `.mjs` / `.ts` with a default export): what `contractbus generate`
 * runs without arguments, and what `contractbus init` writes. Validated with zod so a misspelt key
 * fails with its path; the JSON Schema for editors (schema/contractbus.config.schema.json) is
 * generated from the same zod schema (`node --conditions=development generator/config.ts --write-schema`).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod';
import type { ModelOptions } from './model.ts';

export const CONFIG_FILES = ['contractbus.config.json', 'contractbus.config.mjs', 'contractbus.config.ts'] as const;

/** Where the published JSON Schema lives, relative to the package root. */
export const CONFIG_SCHEMA_PATH = 'schema/contractbus.config.schema.json';

export const ContractbusConfigSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema of this file, for editor completion.'),
    input: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('AsyncAPI document(s) (2.6 or 3.x, YAML or JSON), relative to this file.'),
    output: z.string().min(1).default('src/generated').describe('Output folder; each contract goes to <output>/<contract-slug>/. Relative to this file.'),
    templates: z.string().min(1).optional().describe('Folder of <file>.hbs templates that override the built-in ones, per file. Relative to this file.'),
    options: z
      .strictObject({
        importExtension: z.enum(['.js', '.ts']).optional().describe("Extension of imports between generated files: '.js' (compiled projects, default) or '.ts' (Node type stripping)."),
        runtimeImport: z.string().min(1).optional().describe("Module the generated code imports the runtime from. Default 'contractbus'."),
        fixtures: z.boolean().optional().describe('Emit fixtures.ts from message examples. Default true.'),
        additionalProperties: z
          .enum(['passthrough', 'strip', 'strict'])
          .optional()
          .describe('Objects without additionalProperties in payloads: passthrough (default, unknown fields kept), strip (dropped) or strict (rejected).'),
        mirror: z.boolean().optional().describe('Also emit mirror.ts: a client playing the other side of every operation, for contract tests (imports contractbus/testing). Default false.'),
      })
      .default({})
      .describe('Generation options (the same as the generate command line flags).'),
  })
  .describe('contractbus configuration: contract-first, typed messaging from AsyncAPI.');

export type ContractbusConfigInput = z.input<typeof ContractbusConfigSchema>;
export type ContractbusConfig = z.output<typeof ContractbusConfigSchema>;

export interface LoadedConfig {
  /** Absolute path of the config file. */
  file: string;
  config: ContractbusConfig;
  /** Absolute paths, resolved against the config file's folder. */
  inputs: string[];
  outDir: string;
  templatesDir: string | undefined;
  /** What the generator takes (generator/index.ts `GenerateOptions` minus outDir/check). */
  modelOptions: ModelOptions;
  /** Emit mirror.ts (options.mirror). */
  mirror: boolean;
}

export class ConfigError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${path.relative(process.cwd(), file) || file}: ${message}`);
    this.name = 'ConfigError';
    this.file = file;
  }
}

/** `options.importExtension`, `input[1]`, or `(root)`. */
function keyPath(issuePath: readonly PropertyKey[]): string {
  if (issuePath.length === 0) return '(root)';
  return issuePath.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Validates a config object; errors name the bad key's path. */
export function parseConfig(value: unknown, file: string): ContractbusConfig {
  const result = ContractbusConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const extra = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => keyPath([...issue.path, k])) : undefined;
    if (extra) return `  ${extra.join(', ')}: unknown key${extra.length > 1 ? 's' : ''} (known: ${knownKeys(issue.path).join(', ')})`;
    return `  ${keyPath(issue.path)}: ${issue.message}`;
  });
  throw new ConfigError(file, `invalid configuration\n${lines.join('\n')}\nSee ${CONFIG_SCHEMA_PATH} (set "$schema" for editor completion).`);
}

function knownKeys(at: readonly PropertyKey[]): string[] {
  if (at.length === 1 && at[0] === 'options') return Object.keys(ContractbusConfigSchema.shape.options.unwrap().shape);
  return Object.keys(ContractbusConfigSchema.shape);
}

/** The config file in `cwd` (the first of CONFIG_FILES that exists), or undefined when there is none. */
export async function loadConfig(cwd: string = process.cwd()): Promise<LoadedConfig | undefined> {
  const file = CONFIG_FILES.map((name) => path.resolve(cwd, name)).find((f) => existsSync(f));
  if (file === undefined) return undefined;
  return loadConfigFile(file);
}

export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  let raw: unknown;
  if (file.endsWith('.json')) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as unknown;
    } catch (error) {
      throw new ConfigError(file, `not valid JSON: ${(error as Error).message}${lineColumn(text, error as Error)}`);
    }
  } else {
    try {
      const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
      raw = mod.default;
    } catch (error) {
      throw new ConfigError(file, `cannot import: ${(error as Error).message.split('\n')[0]}${file.endsWith('.ts') ? ' (a .ts config needs Node >= 22.18 with type stripping; use contractbus.config.json or .mjs otherwise)' : ''}`);
    }
    if (raw === undefined) throw new ConfigError(file, 'has no default export (export default { input: "asyncapi.yaml" })');
  }
  const config = parseConfig(raw, file);
  const dir = path.dirname(file);
  const modelOptions: ModelOptions = {};
  if (config.options.importExtension !== undefined) modelOptions.importExtension = config.options.importExtension;
  if (config.options.runtimeImport !== undefined) modelOptions.runtimeImport = config.options.runtimeImport;
  if (config.options.fixtures !== undefined) modelOptions.fixtures = config.options.fixtures;
  if (config.options.additionalProperties !== undefined) modelOptions.objectMode = config.options.additionalProperties;
  return {
    file,
    config,
    inputs: (Array.isArray(config.input) ? config.input : [config.input]).map((p) => path.resolve(dir, p)),
    outDir: path.resolve(dir, config.output),
    templatesDir: config.templates === undefined ? undefined : path.resolve(dir, config.templates),
    modelOptions,
    mirror: config.options.mirror ?? false,
  };
}

/** Node's JSON.parse says "at position N" (or "line L column C" in newer versions): add line:column if it did not. */
function lineColumn(text: string, error: Error): string {
  if (/line \d+ column \d+/.test(error.message)) return '';
  const position = /position (\d+)/.exec(error.message)?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position)).split('\n');
  return ` (line ${before.length}, column ${(before[before.length - 1]?.length ?? 0) + 1})`;
}

/** The JSON Schema of the config file, from the zod schema (input side: defaulted keys are optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ContractbusConfigSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://unpkg.com/contractbus/schema/contractbus.config.schema.json', title: 'contractbus.config.json' };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly && process.argv.includes('--write-schema')) {
  const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', CONFIG_SCHEMA_PATH);
  await writeFile(target, configJsonSchemaText());
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
