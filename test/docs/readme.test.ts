/**
 * README stays true: every ```ts block of the README type-checks against the real runtime and a
 * client generated from asyncapi/shop.yaml, exactly as a user would paste it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { generate } from '../../generator/index.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const outDir = path.join(repoRoot, 'test/docs/.out');

export function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

it('every TypeScript example in README.md compiles', { timeout: 120_000 }, async () => {
  const blocks = typescriptBlocks(await readFile(path.join(repoRoot, 'README.md'), 'utf8'));
  expect(blocks.length).toBeGreaterThan(1);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await generate(path.join(repoRoot, 'asyncapi/shop.yaml'), { outDir: path.join(outDir, 'generated'), mirror: true });
  // Each block is its own module (top-level await, own imports), as in a user's file.
  await Promise.all(blocks.map((code, i) => writeFile(path.join(outDir, `block-${i + 1}.ts`), `${code}\nexport {};\n`)));
  await writeFile(
    path.join(outDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        customConditions: ['development'],
        strict: true,
        allowImportingTsExtensions: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['**/*.ts'],
    }),
  );
  const result = await run(path.join(repoRoot, 'node_modules/.bin/tsc'), ['-p', path.join(outDir, 'tsconfig.json')], { cwd: repoRoot }).then(
    () => '',
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  expect(result, 'README.md examples (block-N is the N-th ```ts block)').toBe('');
});
