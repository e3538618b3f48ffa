// Loads the CLI: the compiled one (installed packages: Node does not strip types under node_modules),
// else the TypeScript source (in-repo development, before `npm run build`).
import { existsSync } from 'node:fs';

export async function loadCli() {
  const compiled = new URL('../dist/generator/cli.js', import.meta.url);
  if (existsSync(compiled)) return import(compiled.href);
  const source = new URL('../generator/cli.ts', import.meta.url);
  if (existsSync(source)) return import(source.href);
  process.stderr.write('contractbus: the CLI is not built (dist/generator/cli.js missing); run `npm run build`\n');
  process.exit(1);
}
