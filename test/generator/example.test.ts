/** examples/generated-service: its generated client is up to date with asyncapi/shop.yaml, and it runs on memory://. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateFiles, writeFiles } from '../../generator/index.ts';
import { repoRoot, specPath } from './helpers.ts';

const exec = promisify(execFile);
const exampleDir = path.join(repoRoot, 'examples/generated-service');

describe('examples/generated-service', () => {
  it('generated files match the contract (regenerate with the command in src/main.ts)', async () => {
    const { files } = await generateFiles(specPath('shop'), { importExtension: '.ts', mirror: true });
    const drift = await writeFiles(path.join(exampleDir, 'src/generated'), files, { check: true });
    expect({ added: drift.added, changed: drift.changed, removed: drift.removed }).toEqual({ added: [], changed: [], removed: [] });
  });

  it('runs over the MemoryBroker: typed handlers, parameters, narrowing, outgoing validation', async () => {
    const { stdout } = await exec(path.join(repoRoot, 'node_modules/.bin/node'), ['--conditions=development', 'examples/generated-service/src/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, NODE_NO_WARNINGS: '1', MESSAGE_BROKER_URL: 'memory://generated-service-test' },
      timeout: 30_000,
    });
    expect(stdout).toContain('refused before sending: status: Invalid option');
    expect(stdout).toContain('order 7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00 is now paid (correlation req-789)');
    expect(stdout).toContain('failed: card declined (retryable: false)');
    expect(stdout).toContain('captured: 1999 EUR');
  });
});
