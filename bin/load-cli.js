// Loads the CLI: the compiled one (installed packages: Node does not strip types under node_modules),
// else the TypeScript source (in-repo development, before `npm run build`).
import { existsSync } from 'node:fs';

export async function loadCli() {
  const compiled = new URL('../dist/generator/cli.js', import.meta.url);
  if (existsSync(compiled)) return import(compiled.href);
  const source = new URL('../generator/cli.ts', import.meta.url);
  if (existsSync(source)) {
    try {
      return await import(source.href);
    } catch (error) {
      // e.g. ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING when installed without dist/
      process.stderr.write(`contractbus: cannot load the CLI from its TypeScript source (${error && error.code ? error.code : error}); run \`npm run build\` in the contractbus package\n`);
      process.exit(1);
    }
  }
  process.stderr.write('contractbus: the CLI is not built (dist/generator/cli.js missing); run `npm run build`\n');
  process.exit(1);
}
