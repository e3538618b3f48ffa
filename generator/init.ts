/**
 * `contractbus init`: scaffolds contract-first messaging in an existing repo: a starter AsyncAPI 3.0
 * document (one event the service sends, one it receives, with examples), `contractbus.config.json`,
 * and the `contractbus:generate` / `contractbus:check` npm scripts. Nothing is overwritten without
 * `--force`: every conflict is listed first and then nothing at all is written.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_SCHEMA_PATH } from './config.ts';
import type { ContractbusConfigInput } from './config.ts';
import type { CommandIo } from './diff.ts';
import { fileSlug } from './names.ts';

export const INIT_HELP = `contractbus init [options]

Scaffolds in the current folder (an existing npm project):
  asyncapi.yaml              a starter AsyncAPI 3.0 contract: one event sent, one received
  contractbus.config.json    input, output, templates, options (JSON Schema for editor completion)
  package.json scripts       contractbus:generate, contractbus:check (CI drift check)

Options:
      --spec <file>      path of the contract (default: asyncapi.yaml)
  -o, --out <dir>        output folder of the generated code (default: src/generated)
      --title <title>    contract title (default: from package.json "name")
      --cwd <dir>        project folder (default: the current folder)
      --force            overwrite existing files and scripts
  -h, --help

Exit codes: 0 done, 1 something exists already (nothing written; use --force) or no package.json, 2 usage error.`;

const defaultIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A YAML plain scalar is unsafe for most punctuation: quote when in doubt (JSON strings are valid YAML). */
function yamlString(value: string): string {
  return /^[A-Za-z][A-Za-z0-9 ._-]*$/.test(value) && !/^(true|false|null|yes|no|on|off)$/i.test(value) ? value : JSON.stringify(value);
}

function slugOf(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/^@[^/]+\//, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'service'
  );
}

export function starterContract(title: string): string {
  const slug = slugOf(title);
  return `# Starter contract written by \`contractbus init\`. Edit it, then run \`npm run contractbus:generate\`.
# AsyncAPI 3.0: https://www.asyncapi.com/docs/reference/specification/v3.0.0
asyncapi: 3.0.0
info:
  title: ${yamlString(title)}
  version: 0.1.0
  description: ${JSON.stringify(`Events of ${title}.`)}
defaultContentType: application/json
channels:
  itemCreated:
    address: ${slug}.items.{itemId}.created
    description: One message per item created by this service.
    parameters:
      itemId:
        description: The item's id.
    messages:
      ItemCreated:
        $ref: '#/components/messages/ItemCreated'
  itemRequested:
    address: ${slug}.item-requests
    description: Requests to create an item, sent by other services.
    messages:
      ItemRequested:
        $ref: '#/components/messages/ItemRequested'
operations:
  publishItemCreated:
    action: send
    summary: Announce a new item.
    channel:
      $ref: '#/channels/itemCreated'
    messages:
      - $ref: '#/channels/itemCreated/messages/ItemCreated'
  onItemRequested:
    action: receive
    summary: Create an item on request.
    channel:
      $ref: '#/channels/itemRequested'
    messages:
      - $ref: '#/channels/itemRequested/messages/ItemRequested'
components:
  messages:
    ItemCreated:
      name: ItemCreated
      correlationId:
        location: $message.header#/correlationId
      headers:
        $ref: '#/components/schemas/Headers'
      payload:
        $ref: '#/components/schemas/Item'
      examples:
        - name: created
          headers: { correlationId: req-1 }
          payload: { itemId: 7f1c2a8e-9d4b-4c1e-8a2f-1b3c5d7e9f00, name: First item, createdAt: '2026-01-01T12:00:00Z' }
    ItemRequested:
      name: ItemRequested
      correlationId:
        location: $message.header#/correlationId
      headers:
        $ref: '#/components/schemas/Headers'
      payload:
        type: object
        required: [name]
        properties:
          name: { type: string, minLength: 1, maxLength: 200 }
      examples:
        - name: request
          headers: { correlationId: req-1 }
          payload: { name: First item }
  schemas:
    Headers:
      type: object
      required: [correlationId]
      properties:
        correlationId: { type: string, minLength: 1, description: Ties a message to the request that caused it. }
    Item:
      type: object
      required: [itemId, name, createdAt]
      properties:
        itemId: { type: string, format: uuid }
        name: { type: string, minLength: 1, maxLength: 200 }
        createdAt: { type: string, format: date-time }
`;
}

interface PackageJson {
  name?: unknown;
  scripts?: Record<string, string>;
  [key: string]: unknown;
}

/** `contractbus init`; returns the exit code. */
export async function runInitCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  let values: { spec?: string; out?: string; title?: string; cwd?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        spec: { type: 'string' },
        out: { type: 'string', short: 'o' },
        title: { type: 'string' },
        cwd: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`contractbus init: ${(error as Error).message}\n\n${INIT_HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(INIT_HELP);
    return 0;
  }
  const cwd = path.resolve(values.cwd ?? process.cwd());
  const force = values.force ?? false;
  const specRel = values.spec ?? 'asyncapi.yaml';
  const outRel = values.out ?? 'src/generated';
  for (const [flag, value] of [['--spec', specRel], ['--out', outRel]] as const) {
    if (path.isAbsolute(value) || value.split(/[\\/]/).includes('..')) {
      io.err(`contractbus init: ${flag} must be a path inside the project (got ${JSON.stringify(value)})`);
      return 2;
    }
  }
  const packageFile = path.join(cwd, 'package.json');
  if (!existsSync(packageFile)) {
    io.err(`contractbus init: no package.json in ${cwd}. Run it in your project's folder (or \`npm init -y\` first).`);
    return 1;
  }
  const packageText = await readFile(packageFile, 'utf8');
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(packageText) as PackageJson;
  } catch (error) {
    io.err(`contractbus init: ${packageFile} is not valid JSON (${(error as Error).message}); fix it first.`);
    return 1;
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) {
    io.err(`contractbus init: ${packageFile} is not a JSON object; fix it first.`);
    return 1;
  }
  const title = values.title ?? (typeof pkg.name === 'string' && pkg.name !== '' ? pkg.name.replace(/^@[^/]+\//, '') : path.basename(cwd));

  const specFile = path.join(cwd, specRel);
  const configFile = path.join(cwd, 'contractbus.config.json');
  const config: ContractbusConfigInput = {
    $schema: `./node_modules/contractbus/${CONFIG_SCHEMA_PATH}`,
    input: specRel.split(path.sep).join('/'),
    output: outRel.split(path.sep).join('/'),
    options: { importExtension: '.js' },
  };
  // Explicit arguments: they work with every contractbus version, with or without config support in `generate`.
  const scripts: Record<string, string> = {
    'contractbus:generate': `contractbus generate ${config.input as string} -o ${config.output}`,
    'contractbus:check': `contractbus generate ${config.input as string} -o ${config.output} --check`,
  };

  const conflicts: string[] = [];
  const specExisted = existsSync(specFile);
  const configExisted = existsSync(configFile);
  if (specExisted) conflicts.push(`${specRel} exists`);
  if (configExisted) conflicts.push('contractbus.config.json exists');
  const existing = pkg.scripts ?? {};
  if (typeof existing !== 'object' || Array.isArray(existing)) {
    io.err(`contractbus init: "scripts" in ${packageFile} is not an object; fix it first.`);
    return 1;
  }
  for (const [name, command] of Object.entries(scripts)) {
    if (existing[name] !== undefined && existing[name] !== command) conflicts.push(`package.json script "${name}" exists (${JSON.stringify(existing[name])})`);
  }
  if (conflicts.length > 0 && !force) {
    io.err(`contractbus init: nothing written, because:\n${conflicts.map((c) => `  - ${c}`).join('\n')}\nRun \`contractbus init --force\` to overwrite them.`);
    return 1;
  }

  await mkdir(path.dirname(specFile), { recursive: true });
  await writeFile(specFile, starterContract(title));
  io.out(`${specExisted ? 'overwrote' : 'created '} ${specRel}`);
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  io.out(`${configExisted ? 'overwrote' : 'created '} contractbus.config.json`);
  const indent = /^(\s+)"/m.exec(packageText)?.[1] ?? '  ';
  const updated: PackageJson = { ...pkg, scripts: { ...existing, ...scripts } };
  await writeFile(packageFile, `${JSON.stringify(updated, null, indent)}${packageText.endsWith('\n') ? '\n' : ''}`);
  io.out(`updated  package.json scripts: ${Object.keys(scripts).join(', ')}`);
  io.out(`\nNext:\n  npm install contractbus        (if it is not a dependency yet)\n  npm run contractbus:generate   → ${config.output}/${fileSlug(title)}/\n  npm run contractbus:check      in CI (see docs/contracts-in-ci.md)`);
  return 0;
}
