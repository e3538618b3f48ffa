// Test helpers for the real brokers started by scripts/brokers.sh: where they are, whether
// they answer, how to stop/start/restart one for fault tests, and how to run a consumer in a
// child process that a test can SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type BrokerName = 'redis' | 'rabbitmq' | 'kafka';
export const BROKER_NAMES: readonly BrokerName[] = ['redis', 'rabbitmq', 'kafka'];

export interface BrokerUrls {
  /** ioredis URL, env REDIS_URL. */
  readonly redis: string;
  /** amqplib URL, env AMQP_URL. */
  readonly amqp: string;
  /** kafkajs / @platformatic/kafka bootstrap list, env KAFKA_BROKERS (comma-separated). */
  readonly kafkaBrokers: readonly string[];
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BROKERS_SCRIPT = fileURLToPath(new URL('../../scripts/brokers.sh', import.meta.url));

/** The same env vars scripts/brokers.sh reads for its ports, with loopback defaults. */
export function brokerUrls(env: NodeJS.ProcessEnv = process.env): BrokerUrls {
  return {
    redis: nonEmpty(env.REDIS_URL) ?? 'redis://127.0.0.1:6379',
    amqp: nonEmpty(env.AMQP_URL) ?? 'amqp://guest:guest@127.0.0.1:5672',
    kafkaBrokers: (nonEmpty(env.KAFKA_BROKERS) ?? '127.0.0.1:9092')
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  };
}

export interface TlsFiles {
  /** Throwaway CA that signed the server and client certificates (scripts/brokers/tls.sh). */
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** For mutual-TLS tests; the brokers accept but do not require a client certificate. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

export interface ExtraListeners {
  /** Redis TLS port (`--tls-port`), env REDIS_TLS_URL, default rediss://127.0.0.1:6380. */
  readonly redisTls: string;
  /** RabbitMQ TLS listener, env AMQPS_URL, default amqps://guest:guest@127.0.0.1:5671. */
  readonly amqps: string;
  /** Kafka SASL_PLAINTEXT listener with SASL/PLAIN, env KAFKA_SASL_BROKERS, default 127.0.0.1:9094. */
  readonly kafkaSasl: {
    readonly brokers: readonly string[];
    readonly mechanism: 'plain';
    /** Users configured on the listener: contractbus/contractbus-secret and alice/alice-secret. */
    readonly username: string;
    readonly password: string;
    /** The same users also exist as SCRAM-SHA-256 and SCRAM-SHA-512 credentials. */
    readonly scramMechanisms: readonly ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
  };
  /** Kafka SASL_SSL listener (PLAIN and SCRAM, server certificate from the test CA), env KAFKA_SASL_SSL_BROKERS, default 127.0.0.1:9095. */
  readonly kafkaSaslSsl: readonly string[];
  /** Kafka SSL listener that requires a client certificate signed by the test CA, env KAFKA_SSL_BROKERS, default 127.0.0.1:9096. */
  readonly kafkaSsl: readonly string[];
  readonly tls: TlsFiles;
}

const hostPorts = (value: string): string[] =>
  value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);

/**
 * The TLS/SASL listeners that `npm run brokers -- start` opens unless BROKERS_EXTRA_LISTENERS=0.
 * Use isListening() before relying on one: brokers started earlier or elsewhere may lack them.
 */
export function extraListeners(env: NodeJS.ProcessEnv = process.env): ExtraListeners {
  const tlsDir = `${nonEmpty(env.CONTRACTBUS_BROKERS_DIR) ?? `${REPO_ROOT}.brokers`}/tls`;
  return {
    redisTls: nonEmpty(env.REDIS_TLS_URL) ?? 'rediss://127.0.0.1:6380',
    amqps: nonEmpty(env.AMQPS_URL) ?? 'amqps://guest:guest@127.0.0.1:5671',
    kafkaSasl: {
      brokers: (nonEmpty(env.KAFKA_SASL_BROKERS) ?? '127.0.0.1:9094')
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b.length > 0),
      mechanism: 'plain',
      username: 'contractbus',
      password: 'contractbus-secret',
      scramMechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'],
    },
    kafkaSaslSsl: hostPorts(nonEmpty(env.KAFKA_SASL_SSL_BROKERS) ?? '127.0.0.1:9095'),
    kafkaSsl: hostPorts(nonEmpty(env.KAFKA_SSL_BROKERS) ?? '127.0.0.1:9096'),
    tls: {
      caFile: `${tlsDir}/ca.pem`,
      serverCertFile: `${tlsDir}/server.pem`,
      serverKeyFile: `${tlsDir}/server.key`,
      clientCertFile: `${tlsDir}/client.pem`,
      clientKeyFile: `${tlsDir}/client.key`,
    },
  };
}

/** True when something accepts a TCP connection on host:port within timeoutMs. */
export function isListening(endpoint: Endpoint, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** host:port of a URL (`rediss://…`, `amqps://…`) or of a bare `host:port`. */
export function endpointOf(urlOrHostPort: string, defaultPort: number): Endpoint {
  const u = new URL(urlOrHostPort.includes('://') ? urlOrHostPort : `tcp://${urlOrHostPort}`);
  return { host: stripBrackets(u.hostname) || '127.0.0.1', port: Number(u.port || defaultPort) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export function brokerEndpoint(name: BrokerName, urls: BrokerUrls = brokerUrls()): Endpoint {
  switch (name) {
    case 'redis': {
      const u = new URL(urls.redis);
      return { host: stripBrackets(u.hostname) || '127.0.0.1', port: Number(u.port || 6379) };
    }
    case 'rabbitmq': {
      const u = new URL(urls.amqp);
      return { host: stripBrackets(u.hostname) || '127.0.0.1', port: Number(u.port || 5672) };
    }
    case 'kafka': {
      const first = urls.kafkaBrokers[0] ?? '127.0.0.1:9092';
      const u = new URL(`kafka://${first}`);
      return { host: stripBrackets(u.hostname) || '127.0.0.1', port: Number(u.port || 9092) };
    }
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

const PORT_ENV: Record<BrokerName, { readonly name: string; readonly port: number }> = {
  redis: { name: 'REDIS_PORT', port: 6379 },
  rabbitmq: { name: 'RABBITMQ_PORT', port: 5672 },
  kafka: { name: 'KAFKA_PORT', port: 9092 },
};

/** The shell command a person runs to bring a broker up (naming the port when it is not the default). */
export function startCommand(name: BrokerName, urls: BrokerUrls = brokerUrls()): string {
  const { port } = brokerEndpoint(name, urls);
  const env = PORT_ENV[name];
  return `${port === env.port ? '' : `${env.name}=${port} `}npm run brokers -- start ${name}`;
}

// A protocol round trip, not just a TCP accept: a JVM or Erlang VM listens before it serves.
const PROBES: Record<BrokerName, { request: Buffer; ok: (reply: Buffer) => boolean | undefined }> = {
  redis: {
    request: Buffer.from('PING\r\n'),
    // A password-protected Redis answers -NOAUTH: still up.
    ok: (r) => (r.length >= 1 ? r[0] === 0x2b || r.subarray(0, 7).toString() === '-NOAUTH' : undefined),
  },
  rabbitmq: {
    request: Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]),
    // Frame type 1 (method): connection.start.
    ok: (r) => (r.length >= 1 ? r[0] === 1 : undefined),
  },
  kafka: {
    // ApiVersions v0, correlation id 1, null client id.
    request: Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]),
    ok: (r) => (r.length >= 8 ? r.readInt32BE(4) === 1 : undefined),
  },
};

/** True when the broker answers a minimal protocol request within timeoutMs. */
export function isReachable(name: BrokerName, timeoutMs = 1_000, urls: BrokerUrls = brokerUrls()): Promise<boolean> {
  const { host, port } = brokerEndpoint(name, urls);
  const probe = PROBES[name];
  return new Promise((resolve) => {
    let socket: Socket | undefined;
    let received = Buffer.alloc(0);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket = connect({ host, port }, () => socket?.write(probe.request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const verdict = probe.ok(received);
      if (verdict !== undefined) finish(verdict);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

/** Polls isReachable until it returns `reachable` (default true) or timeoutMs passes. */
export async function waitForReachable(name: BrokerName, timeoutMs = 60_000, reachable = true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await isReachable(name, 1_000)) === reachable) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${name} is still ${reachable ? 'down' : 'up'} after ${timeoutMs} ms at ` +
          `${formatEndpoint(brokerEndpoint(name))}` +
          (reachable ? `; start it with: ${startCommand(name)}` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

export interface ScriptResult {
  readonly code: number;
  readonly output: string;
}

/** Runs `bash scripts/brokers.sh <args>`; rejects with the script's output on a non-zero exit. */
export function runBrokersScript(args: readonly string[], timeoutMs = 180_000): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BROKERS_SCRIPT, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, output };
      if (code === 0) resolve(result);
      else
        reject(
          new Error(
            `scripts/brokers.sh ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trimEnd()}`,
          ),
        );
    });
  });
}

/** Starts one broker (installing it if needed) and resolves once it answers. */
export async function startBroker(name: BrokerName): Promise<void> {
  await runBrokersScript(['start', name]);
  await waitForReachable(name, 30_000);
}

/**
 * Stops one broker that scripts/brokers.sh started (by its PID). Rejects if the broker still
 * answers afterwards, i.e. it was started by something else and a fault test would be void.
 */
export async function stopBroker(name: BrokerName): Promise<void> {
  await runBrokersScript(['stop', name]);
  if (await isReachable(name)) {
    throw new Error(
      `${name} still answers at ${formatEndpoint(brokerEndpoint(name))} after stop: it was not started by ` +
        `scripts/brokers.sh, so it cannot be stopped for this test. Stop it yourself, then run ${startCommand(name)}`,
    );
  }
}

/**
 * Whether this checkout's scripts/brokers.sh started `name` (a live PID in .brokers/<name>/), so a
 * fault test may stop and restart it. A broker started elsewhere (docker compose, another checkout)
 * is left alone: fault tests skip, saying why.
 */
export function canRestartBroker(name: BrokerName): boolean {
  const dir = process.env.CONTRACTBUS_BROKERS_DIR ?? path.join(REPO_ROOT, '.brokers');
  const pidFile = path.join(dir, name, `${name}.pid`);
  if (!existsSync(pidFile)) return false;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const NOT_OURS_REASON = (name: BrokerName): string =>
  `${name} was not started by this checkout's scripts/brokers.sh, so this test cannot restart it`;

/** Stop + start with data kept (Kafka and RabbitMQ data dirs; Redis via a snapshot). */
export async function restartBroker(name: BrokerName): Promise<void> {
  await runBrokersScript(['restart', name]);
  await waitForReachable(name, 30_000);
}

export interface ConsumerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects on exit or timeout. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves with the first IPC message (process.send) matching `predicate`. */
  waitForMessage<T = unknown>(predicate: (message: unknown) => boolean, timeoutMs?: number): Promise<T>;
  /** Settles when the child exits. */
  readonly exited: Promise<ExitInfo>;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnConsumerOptions {
  readonly args?: readonly string[];
  /** Merged over process.env; broker URLs are always passed through. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * Runs a .ts file in a separate Node process (same binary as the test, with
 * --conditions=development so `contractbus` imports resolve to the sources). The child can
 * report progress with console.log lines or process.send(...) messages.
 */
export function spawnConsumerProcess(file: string | URL, options: SpawnConsumerOptions = {}): ConsumerProcess {
  const path = typeof file === 'string' ? file : fileURLToPath(file);
  const urls = brokerUrls();
  const child = spawn(process.execPath, ['--conditions=development', path, ...(options.args ?? [])], {
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      REDIS_URL: urls.redis,
      AMQP_URL: urls.amqp,
      KAFKA_BROKERS: urls.kafkaBrokers.join(','),
      ...options.env,
    },
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${process.execPath} for ${path}`);

  let text = '';
  const lineWaiters = new Set<(line: string) => void>();
  const messageWaiters = new Set<(message: unknown) => void>();
  const seenMessages: unknown[] = [];
  let pending = '';
  const onData = (d: Buffer): void => {
    const s = d.toString();
    text += s;
    pending += s;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) for (const w of [...lineWaiters]) w(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.on('message', (m: unknown) => {
    seenMessages.push(m);
    for (const w of [...messageWaiters]) w(m);
  });

  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const waitFor = <T>(
    register: (settle: (value: T) => void) => () => void,
    what: string,
    timeoutMs: number,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let unregister = (): void => {};
      const timer = setTimeout(() => {
        unregister();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${path}; output:\n${text}`));
      }, timeoutMs);
      unregister = register((value) => {
        clearTimeout(timer);
        unregister();
        resolve(value);
      });
      void exited.then((info) => {
        clearTimeout(timer);
        unregister();
        reject(
          new Error(`${path} exited (${info.signal ?? `code ${info.code}`}) before ${what}; output:\n${text}`),
        );
      });
    });

  return {
    child,
    pid: child.pid,
    exited,
    output: () => text,
    waitForLine(pattern, timeoutMs = 30_000) {
      const matches = (line: string): boolean =>
        typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
      return waitFor<string>(
        (settle) => {
          const earlier = text.split('\n').find(matches);
          if (earlier !== undefined) {
            queueMicrotask(() => settle(earlier));
            return () => {};
          }
          const w = (line: string): void => {
            if (matches(line)) settle(line);
          };
          lineWaiters.add(w);
          return () => lineWaiters.delete(w);
        },
        `a line matching ${String(pattern)}`,
        timeoutMs,
      );
    },
    waitForMessage<T = unknown>(predicate: (message: unknown) => boolean, timeoutMs = 30_000) {
      return waitFor<T>(
        (settle) => {
          const earlier = seenMessages.find(predicate);
          if (earlier !== undefined) {
            queueMicrotask(() => settle(earlier as T));
            return () => {};
          }
          const w = (m: unknown): void => {
            if (predicate(m)) settle(m as T);
          };
          messageWaiters.add(w);
          return () => messageWaiters.delete(w);
        },
        'an IPC message',
        timeoutMs,
      );
    },
  };
}

/**
 * SIGKILL: no shutdown hooks, no acks, no graceful close. The broker sees a dropped TCP
 * connection, exactly like a crashed or OOM-killed consumer. Resolves once the child is gone.
 */
export async function killHard(target: ConsumerProcess | ChildProcess): Promise<ExitInfo> {
  const child = 'child' in target ? target.child : target;
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const exited =
    'exited' in target
      ? target.exited
      : new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGKILL');
  return exited;
}
