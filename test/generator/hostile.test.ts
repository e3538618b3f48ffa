/**
 * Hostile specs: names that are keywords, carry quotes, backticks, `*\/`, newlines, unicode, path
 * separators or JavaScript internals produce safe code inside the output folder (the tsc run in
 * typecheck.test.ts compiles the same output), or one clean error for what the parser cannot read.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContractLoadError, ExampleError, generateFiles, loadContract, safeResolve, UnsafePathError, writeFiles } from '../../generator/index.ts';
import { fixturePath, freshDir, writeRuntimeShim } from './helpers.ts';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

describe('hostile contract', () => {
  it('writes only inside the output folder, under a sanitised slug', async () => {
    const dir = await freshDir('hostile-test');
    const { files, model } = await generateFiles(fixturePath('hostile.yaml'), { importExtension: '.ts', runtimeImport: '../contractbus-shim.ts' });
    expect(model.slug).toMatch(/^[a-z0-9-]+$/);
    await writeFiles(path.join(dir, 'out'), files);
    expect(await listFiles(path.join(dir, 'out'))).toEqual(['client.ts', 'index.ts', 'schemas.ts'].map((f) => path.join(model.slug, f)));
  });

  it('escapes comments and literals: no `*/` closes a comment early, no raw newline in a string', async () => {
    const { files } = await generateFiles(fixturePath('hostile.yaml'));
    for (const file of files) {
      for (const comment of file.contents.match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
        expect(comment.slice(3, -2)).not.toContain('*/');
      }
      expect(file.contents).not.toContain('process.exit(1); //\n');
      expect(file.contents).not.toMatch(/console\.log\('pwned'\)/.source.length ? /^[^*/]*console\.log\('pwned'\)/m : /x/);
    }
  });

  it('runs: safe method names, the client is not thenable, prototype-named keys stay data', async () => {
    const dir = await freshDir('hostile-run');
    await writeRuntimeShim(dir);
    const { files, model } = await generateFiles(fixturePath('hostile.yaml'), { importExtension: '.ts', runtimeImport: '../contractbus-shim.ts' });
    await writeFiles(dir, files);
    const mod = (await import(path.join(dir, model.slug, 'index.ts'))) as Record<string, unknown>;
    const factory = mod[model.clientFactory] as (broker: unknown) => Record<string, unknown>;
    const client = factory({});
    expect(Object.getPrototypeOf(client)).toBe(Object.prototype);
    expect(Object.keys(client).sort()).toEqual(['class_', 'constructor_', 'delete_', 'publishOrder', 'publishOrder2', 'then_']);
    expect('then' in client).toBe(false);
    const schema = mod['Object_'] as { safeParse(v: unknown): { success: boolean; data?: Record<string, unknown> } };
    expect(schema.safeParse({ class: 'c', 'with space': '*/' }).success).toBe(true);
    const parsed = schema.safeParse({ class: 'c', 'with space': '*/', toString: 1, constructor: 'x' });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.['line\nbreak']).toBe('"); process.exit(1); ("');
  });

  it('refuses paths outside the output folder', async () => {
    const dir = await freshDir('hostile-paths');
    for (const bad of ['../evil.ts', '/etc/passwd', 'a/../../b.ts', 'a//b.ts', '..']) {
      expect(() => safeResolve(dir, bad), bad).toThrow(UnsafePathError);
    }
    await expect(writeFiles(dir, [{ path: '../escaped.ts', contents: 'x' }])).rejects.toBeInstanceOf(UnsafePathError);
    expect(await readdir(path.dirname(dir))).not.toContain('escaped.ts');
  });
});

describe('input the parser cannot read safely: one clean error with its location', () => {
  it.each([
    ['proto.yaml', /proto\.yaml:11:13 error: the key "__proto__" is not supported/],
    ['has-own-property.yaml', /has-own-property\.yaml:11:13 error: the key "hasOwnProperty" is not supported/],
    ['reserved-name.yaml', /reserved-name\.yaml:7:7 error: the name "constructor" .* rename it/],
  ])('%s', async (file, message) => {
    const error = await loadContract(fixturePath(file)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractLoadError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/\n\s+at /);
  });

  it('an example that does not match its schema is a generation error naming the message and example', async () => {
    const error = await generateFiles(fixturePath('bad-example.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExampleError);
    expect((error as Error).message).toMatch(/bad-example\.yaml: messages\.m\.examples\[0\] \("wrong"\) payload does not match its schema: n: /);
  });

  it('a send operation on a wildcard address is refused at generation', async () => {
    await expect(generateFiles(fixturePath('wildcard-send.yaml'))).rejects.toThrow(/wildcard-send\.yaml: operation "sendAll" sends to "orders\.\*\.status", a wildcard address/);
  });

  it('a dead-letter topic equal to the channel is refused at generation', async () => {
    await expect(generateFiles(fixturePath('dlq-loop.yaml'))).rejects.toThrow(/x-contractbus-dead-letter-topic "critical\.events" must be a different, non-empty topic/);
  });

  it('the generated marker stays in every file (stale-file cleanup relies on it)', async () => {
    const { files } = await generateFiles(fixturePath('hostile.yaml'));
    for (const f of files) expect(f.contents).toContain('Generated by contractbus');
    void readFile;
  });
});
