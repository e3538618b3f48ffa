import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateFiles, writeFiles } from '../../generator/index.ts';
import type { GeneratedFile, ModelOptions } from '../../generator/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const generatedRoot = path.join(repoRoot, 'test/generator/__generated__');

/** Reference contracts: each in AsyncAPI 3.0 and 2.6, describing the same contract. */
export const contracts = ['shop', 'users', 'notifications', 'critical'] as const;
export const specPath = (name: string, version: '3.0' | '2.6' = '3.0'): string => path.join(repoRoot, 'asyncapi', version === '3.0' ? `${name}.yaml` : `${name}.v2.yaml`);
export const fixturePath = (name: string): string => path.join(repoRoot, 'test/generator/fixtures', name);

/** A fresh folder per test file (vitest runs files in parallel). */
export async function freshDir(name: string): Promise<string> {
  const dir = path.join(generatedRoot, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function generateInto(outDir: string, spec: string, options: ModelOptions = {}): Promise<GeneratedFile[]> {
  const { files } = await generateFiles(spec, options);
  await writeFiles(outDir, files);
  return files;
}

/**
 * What generated code needs from `contractbus` (types, errors and the two generator helpers), until
 * the runtime's index re-exports the helpers. Narrow on purpose: the type check then covers the
 * generated code and these files, not every binding's source.
 */
export async function writeRuntimeShim(dir: string): Promise<string> {
  const rel = path.relative(dir, path.join(repoRoot, 'runtime')).split(path.sep).join('/');
  const file = path.join(dir, 'contractbus-shim.ts');
  await writeFile(
    file,
    `export type * from '${rel}/core/types.ts';\nexport * from '${rel}/core/errors.ts';\nexport * from '${rel}/core/validation.ts';\nexport * from '${rel}/core/channel.ts';\n`,
  );
  return file;
}
