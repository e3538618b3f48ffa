/** The example service the demo runs works end to end on the memory broker and exits by itself. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

it('examples/generated-service publishes, consumes, refuses and dead-letters on memory://', { timeout: 60_000 }, async () => {
  const { stdout } = await run(process.execPath, ['--conditions=development', 'examples/generated-service/src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, MESSAGE_BROKER_URL: 'memory://' },
  });
  expect(stdout).toContain('refused before sending');
  expect(stdout).toContain('is now paid (correlation req-789)');
  expect(stdout).toContain('captured: 1999 EUR');
  expect(stdout).toMatch(/dead-lettered from shop\.payments: validation failed/);
});
