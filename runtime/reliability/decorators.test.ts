// The `@retryable` and `@circuitBreaker` syntax, compiled by tsc (Node's type stripping and this
// test runner's transform do not run standard decorators), then imported and exercised.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../..');

interface Fixture {
  breaker: { state: string };
  InventoryClient: new () => { calls: number; failures: number; reserve(sku: string, quantity: number): Promise<string>; check(healthy: boolean): Promise<string> };
}

let outDir: string;
let fixture: Fixture;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'contractbus-decorators-'));
  const tsc = join(repo, 'node_modules', '.bin', 'tsc');
  const args = [
    '--ignoreConfig', '--target', 'ES2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--allowImportingTsExtensions', '--rewriteRelativeImportExtensions', '--skipLibCheck', '--strict',
    '--types', 'node', '--rootDir', join(repo, 'runtime'), '--outDir', outDir,
    join(here, '__fixtures__', 'decorated.ts'),
  ];
  await promisify(execFile)(tsc, args, { cwd: repo });
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  fixture = (await import(pathToFileURL(join(outDir, 'reliability', '__fixtures__', 'decorated.js')).href)) as Fixture;
}, 60_000);

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('standard method decorators (compiled by tsc)', () => {
  it('@retryable retries a decorated method with its `this` and arguments', async () => {
    const client = new fixture.InventoryClient();
    client.failures = 2;
    await expect(client.reserve('sku-1', 3)).resolves.toBe('sku-1x3@3');
    expect(client.calls).toBe(3);
  });

  it('@retryable gives up after maxRetries and never retries a NonRetryableError', async () => {
    const client = new fixture.InventoryClient();
    client.failures = 10;
    await expect(client.reserve('sku-1', 1)).rejects.toThrow('inventory busy');
    expect(client.calls).toBe(4);
    const other = new fixture.InventoryClient();
    await expect(other.reserve('sku-1', 0)).rejects.toThrow('quantity must be positive');
    expect(other.calls).toBe(1);
  });

  it('@circuitBreaker opens after the threshold and refuses further calls', async () => {
    const client = new fixture.InventoryClient();
    await expect(client.check(true)).resolves.toBe('ok');
    await expect(client.check(false)).rejects.toThrow('inventory down');
    await expect(client.check(false)).rejects.toThrow('inventory down');
    expect(fixture.breaker.state).toBe('open');
    await expect(client.check(true)).rejects.toThrow(/Circuit breaker "inventory" is open/);
  });
});
