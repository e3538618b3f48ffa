/**
 * `contractbus generate <spec...> [-o dir] [--check] [--watch] [--templates dir]` and
 * `contractbus validate <spec...>`. Bad input ends with one clear message (file:line:column) and a
 * non-zero exit, never a stack trace. Run as a module: the bin shims import it.
 */
import { existsSync, readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDiffCommand } from './diff.ts';
import { runInitCommand } from './init.ts';
import { loadConfig, type LoadedConfig } from './config.ts';
import { ContractLoadError, formatProblem, loadContract } from './load.ts';
import type { Problem } from './load.ts';
import { buildModel } from './model.ts';
import { checkExamples } from './examples.ts';
import { generateFiles, writeFiles } from './index.ts';
import type { GenerateOptions, GenerateResult } from './index.ts';

const DEFAULT_OUT = 'src/generated';

const HELP = `contractbus — typed, validated messaging clients from AsyncAPI contracts

Usage:
  contractbus generate <spec...> [options]   generate clients (alias: generate <spec...>)
  contractbus validate <spec...>             check documents, print diagnostics with file:line
  contractbus diff <old> <new> [--json] [--fail-on breaking|any|none]
                                             breaking-change report between two versions of a contract
  contractbus init [--force]                 scaffold asyncapi.yaml, contractbus.config.json and npm scripts
  contractbus dlq replay <dlq-topic> [--url URL] [--target topic] [--limit n]
                                             move dead-lettered messages back to their topic
  contractbus --help | --version

Generate options:
  -o, --out <dir>            output folder; each contract goes to <dir>/<contract-slug>/ (default: ${DEFAULT_OUT})
      --check                write nothing; exit 1 and list the files that would change (CI drift check)
  -w, --watch                regenerate when the spec or a file it $refs changes
      --templates <dir>      folder of <file>.hbs templates overriding the built-in ones, per file
      --import-extension <e> extension of imports between generated files: .js (default) or .ts
                             (.ts for running with Node's type stripping)
      --runtime-import <m>   module the generated code imports the runtime from (default: contractbus)
      --no-fixtures          do not emit fixtures.ts from message examples
      --mirror               also emit mirror.ts: plays the other side of every operation in tests
                             (contractbus/testing)
  Without <spec>, generate reads contractbus.config.json (or .mjs/.ts) in the current folder.
      --additional-properties <mode>
                             objects without additionalProperties in payloads: passthrough (default:
                             unknown fields allowed and kept, forward compatible), strip (allowed,
                             dropped; exact types) or strict (rejected)
  -q, --quiet                print errors only

Exit codes: 0 success, 1 invalid input or drift, 2 usage error.
`;

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'contractbus') return pkg.version ?? '0.0.0';
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

class UsageError extends Error {}

/** Known failure kinds print their message only; anything else is an internal error (still no stack unless asked). */
function describeError(error: unknown): string {
  if (error instanceof ContractLoadError) return error.message;
  if (error instanceof Error) {
    const fsError = error as NodeJS.ErrnoException;
    if (typeof fsError.code === 'string' && typeof fsError.path === 'string') {
      return `cannot write ${path.relative(process.cwd(), fsError.path) || fsError.path}: ${fsError.code} (${fsError.syscall ?? 'fs'}); check the output folder (-o) and its permissions`;
    }
    const known = ['SchemaEmitError', 'ContractModelError', 'ExampleError', 'TemplateError', 'UnsafePathError', 'ConfigError'];
    if (known.includes(error.name)) return error.message;
    if (process.env['CONTRACTBUS_DEBUG']) return error.stack ?? error.message;
    return `internal error: ${error.message} (set CONTRACTBUS_DEBUG=1 for a stack trace and report it)`;
  }
  return String(error);
}

function summary(result: GenerateResult, outDir: string, ms: number, check: boolean): string {
  const w = result.write;
  const where = path.relative(process.cwd(), path.resolve(outDir, result.model.slug)) || '.';
  if (check) {
    const drift = w.added.length + w.changed.length + w.removed.length;
    return drift === 0 ? `${result.model.title}: up to date (${w.unchanged.length} files, ${ms.toFixed(0)} ms) in ${where}` : `${result.model.title}: ${drift} file(s) out of date in ${where}`;
  }
  const removed = w.removed.length ? `, ${w.removed.length} removed` : '';
  return `${result.model.title}: ${w.written.length} written, ${w.unchanged.length} unchanged${removed} → ${where} (${ms.toFixed(0)} ms)`;
}

async function runGenerate(specs: string[], options: GenerateOptions & { watch: boolean; quiet: boolean }, io: Io): Promise<number> {
  let exitCode = 0;
  const sources = new Set<string>();
  const once = async (): Promise<number> => {
    let code = 0;
    const slugs = new Map<string, string>();
    for (const spec of specs) {
      const started = performance.now();
      try {
        const generated = await generateFiles(spec, options);
        for (const s of generated.sources) sources.add(s);
        const clash = slugs.get(generated.model.slug);
        if (clash !== undefined) {
          code = 1;
          io.err(`${spec}: its contract folder ${JSON.stringify(generated.model.slug)} is already taken by ${clash} (same info.title); nothing written for it. Give the contracts distinct titles or generate them into different output folders`);
          continue;
        }
        slugs.set(generated.model.slug, spec);
        const write = await writeFiles(options.outDir, generated.files, { check: options.check ?? false });
        const result: GenerateResult = { ...generated, write };
        const ms = performance.now() - started;
        if (options.check) {
          const w = result.write;
          for (const f of w.added) io.err(`  missing:  ${path.join(options.outDir, f)}`);
          for (const f of w.changed) io.err(`  changed:  ${path.join(options.outDir, f)}`);
          for (const f of w.removed) io.err(`  stale:    ${path.join(options.outDir, f)}`);
          if (w.added.length + w.changed.length + w.removed.length > 0) {
            code = 1;
            io.err(`${summary(result, options.outDir, ms, true)}; run \`contractbus generate ${spec} -o ${options.outDir}\` and commit the result`);
            continue;
          }
        }
        if (!options.quiet) io.out(summary(result, options.outDir, ms, options.check ?? false));
      } catch (error) {
        code = 1;
        sources.add(path.resolve(spec));
        io.err(describeError(error));
      }
    }
    return code;
  };
  exitCode = await once();
  if (!options.watch) return exitCode;
  await watchLoop(sources, once, io);
  return 0;
}

/** Re-runs `once` after a change of any source (debounced); refreshes the watched set after each run. */
async function watchLoop(sources: Set<string>, once: () => Promise<number>, io: Io): Promise<void> {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(async () => {
        io.out(`change detected, regenerating…`);
        await once();
        refresh();
      });
    }, 100);
  };
  // Watch folders, not files: editors that save by writing a new file and renaming it would
  // otherwise leave a watcher on the old inode.
  const refresh = (): void => {
    for (const file of sources) {
      const dir = path.dirname(file);
      if (watchers.has(dir) || !existsSync(dir)) continue;
      try {
        watchers.set(
          dir,
          watch(dir, (_event, name) => {
            if (name === null || sources.has(path.join(dir, name.toString()))) schedule();
          }),
        );
      } catch {
        // a folder that vanished between the check and the watch is picked up on the next run
      }
    }
  };
  refresh();
  io.out(`watching ${sources.size} file(s); Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      for (const w of watchers.values()) w.close();
      if (timer) clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function runValidate(specs: string[], quiet: boolean, io: Io): Promise<number> {
  let code = 0;
  for (const spec of specs) {
    let ok = true;
    let problems: Problem[] = [];
    try {
      const loaded = await loadContract(spec, { recommendedRules: true });
      problems = loaded.problems;
      // A document the parser accepts can still be one we cannot generate from (bad pattern, invalid example).
      try {
        const display = path.relative(process.cwd(), loaded.file) || loaded.file;
        checkExamples(buildModel(loaded.document), display);
      } catch (error) {
        ok = false;
        problems.push({ severity: 'error', file: spec, line: 0, column: 0, message: describeError(error).replace(/^\S+?: /, '') });
      }
    } catch (error) {
      if (!(error instanceof ContractLoadError)) throw error;
      ok = false;
      problems = error.problems;
    }
    const shown = problems.filter((p) => p.severity === 'error' || (!quiet && p.severity === 'warning'));
    for (const p of shown) (p.severity === 'error' ? io.err : io.out)(formatProblem(p));
    if (ok) {
      const warnings = problems.filter((p) => p.severity === 'warning').length;
      if (!quiet) io.out(`${spec}: valid${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`);
    } else {
      code = 1;
      io.err(`${spec}: invalid (${problems.filter((p) => p.severity === 'error').length} error(s))`);
    }
  }
  return code;
}

export async function main(argv: string[] = process.argv.slice(2), io: Io = defaultIo): Promise<number> {
  // Commands with options of their own.
  if (argv[0] === 'diff') return runDiffCommand(argv.slice(1), io);
  if (argv[0] === 'init') return runInitCommand(argv.slice(1), io);
  // Loaded on demand: it pulls in the runtime, which generate and validate never need.
  if (argv[0] === 'dlq') return (await import('./dlq.ts')).runDlqCommand(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string', short: 'o' },
        check: { type: 'boolean' },
        watch: { type: 'boolean', short: 'w' },
        templates: { type: 'string' },
        'import-extension': { type: 'string' },
        'runtime-import': { type: 'string' },
        'no-fixtures': { type: 'boolean' },
        mirror: { type: 'boolean' },
        'additional-properties': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    io.err(`contractbus: ${(error as Error).message}\nRun \`contractbus --help\` for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.out(packageVersion());
    return 0;
  }
  const [command, ...rest] = positionals;
  let specs = rest;
  if (values.help || command === undefined || command === 'help') {
    io.out(HELP);
    return values.help || command === 'help' ? 0 : 2;
  }
  try {
    if (command !== 'generate' && command !== 'validate') throw new UsageError(`unknown command ${JSON.stringify(command)} (expected generate, validate, diff, init or dlq)`);
    // Without a spec argument, generate reads contractbus.config.json (or .mjs/.ts) in this folder.
    let fromConfig: LoadedConfig | undefined;
    if (command === 'generate' && specs.length === 0) {
      fromConfig = await loadConfig();
      if (fromConfig) specs = fromConfig.inputs.map((f) => path.relative(process.cwd(), f) || f);
    }
    if (specs.length === 0) throw new UsageError(`${command} needs the path of an AsyncAPI document${command === 'generate' ? ' (or a contractbus.config.json here: contractbus init)' : ''}`);
    if (command === 'validate') return await runValidate(specs, values.quiet ?? false, io);
    const ext = values['import-extension'];
    if (ext !== undefined && ext !== '.js' && ext !== '.ts' && ext !== 'js' && ext !== 'ts') throw new UsageError('--import-extension must be .js or .ts');
    if (values.check && values.watch) throw new UsageError('--check and --watch cannot be combined');
    if (values.templates !== undefined && !existsSync(values.templates)) throw new UsageError(`templates folder ${JSON.stringify(values.templates)} not found`);
    const options: GenerateOptions & { watch: boolean; quiet: boolean } = {
      ...fromConfig?.modelOptions,
      outDir: values.out ?? (fromConfig ? path.relative(process.cwd(), fromConfig.outDir) || '.' : DEFAULT_OUT),
      check: values.check ?? false,
      watch: values.watch ?? false,
      quiet: values.quiet ?? false,
      fixtures: values['no-fixtures'] ? false : (fromConfig?.modelOptions.fixtures ?? true),
      mirror: values.mirror ?? fromConfig?.mirror ?? false,
    };
    if (fromConfig?.templatesDir !== undefined) options.templatesDir = fromConfig.templatesDir;
    if (ext !== undefined) options.importExtension = ext.startsWith('.') ? (ext as '.js' | '.ts') : (`.${ext}` as '.js' | '.ts');
    if (values.templates !== undefined) options.templatesDir = values.templates;
    if (values['runtime-import'] !== undefined) options.runtimeImport = values['runtime-import'];
    const mode = values['additional-properties'];
    if (mode !== undefined) {
      if (mode !== 'passthrough' && mode !== 'strip' && mode !== 'strict') throw new UsageError('--additional-properties must be passthrough, strip or strict');
      options.objectMode = mode;
    }
    return await runGenerate(specs, options, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`contractbus: ${error.message}\nRun \`contractbus --help\` for usage.`);
      return 2;
    }
    io.err(describeError(error));
    return 1;
  }
}

/** Entry point when run directly (`node generator/cli.ts …`) or through a bin shim. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await main(argv);
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) await run();
