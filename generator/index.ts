/**
 * Programmatic API of the generator: `generate()` does load → model → render (→ write), each step
 * also exported for tools and tests.
 */
import path from 'node:path';
import { loadContract } from './load.ts';
import { buildModel } from './model.ts';
import type { ContractModel, ModelOptions } from './model.ts';
import { renderContract } from './render.ts';
import type { GeneratedFile, RenderOptions } from './render.ts';
import { writeFiles } from './write.ts';
import type { WriteResult } from './write.ts';
import { checkExamples } from './examples.ts';

export { loadContract, validateContract, ContractLoadError, formatProblem } from './load.ts';
export type { Problem, LoadedContract } from './load.ts';
export { buildModel, ContractModelError } from './model.ts';
export type { ContractModel, ModelOptions, SchemaModel, ChannelModel, MessageModel, OperationModel } from './model.ts';
export { emitSchemas, emitSchema, SchemaEmitError } from './schema.ts';
export type { JsonSchema, NamedSchemaInput, EmittedSchema, ObjectMode } from './schema.ts';
export { renderContract, builtInTemplatesDir, TemplateError } from './render.ts';
export type { GeneratedFile, RenderOptions } from './render.ts';
export { writeFiles, safeResolve, UnsafePathError } from './write.ts';
export type { WriteResult } from './write.ts';
export { checkExamples, ExampleError } from './examples.ts';

export interface GenerateOptions extends ModelOptions, RenderOptions {
  /** Output folder; each contract goes into `<outDir>/<contract-slug>/`. */
  outDir: string;
  /** Compare instead of writing. */
  check?: boolean;
}

export interface GenerateResult {
  model: ContractModel;
  files: GeneratedFile[];
  write: WriteResult;
  /** Files the spec depends on (the document and its $ref'd files). */
  sources: string[];
}

/** load + model + render, in memory. */
export async function generateFiles(specPath: string, options: ModelOptions & RenderOptions = {}): Promise<{ model: ContractModel; files: GeneratedFile[]; sources: string[] }> {
  const loaded = await loadContract(specPath);
  const display = path.relative(process.cwd(), loaded.file) || loaded.file;
  let model: ContractModel;
  try {
    model = buildModel(loaded.document, options);
  } catch (error) {
    // Name the document: schema and model errors carry a JSON pointer, not the file.
    if (error instanceof Error && (error.name === 'SchemaEmitError' || error.name === 'ContractModelError')) error.message = `${display}: ${error.message}`;
    throw error;
  }
  checkExamples(model, display);
  return { model, files: renderContract(model, options), sources: loaded.files };
}

export async function generate(specPath: string, options: GenerateOptions): Promise<GenerateResult> {
  const { model, files, sources } = await generateFiles(specPath, options);
  const write = await writeFiles(options.outDir, files, { check: options.check ?? false });
  return { model, files, write, sources };
}
