/**
 * Helpers for the Redis integration tests: event waiting (never fixed sleeps), unique names, and
 * private redis-server processes that a test starts, restarts and stops by PID on its own port,
 * so fault tests never disturb the shared Redis on 6379.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export function unique(prefix: string): string {
  return `${prefix}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export interface PrivateRedis {
  /** Chosen when first started (a free port), kept across restarts. */
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  pid(): number | undefined;
  /** SIGKILL: no shutdown save, no goodbye; what survives is what was on disk. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** Extra server arguments. */
  args?: string[];
  /** Serve TLS only, on the chosen port, with these files (PEM paths). */
  tls?: { cert: string; key: string; ca: string };
  /** Cluster nodes also listen on port + 10000 (the cluster bus): pick a port where both are free. */
  clusterBus?: boolean;
  /** Written to `<dir>/redis.conf` and passed first (a Sentinel needs a writable config file). */
  config?: string;
}

/**
 * A redis-server of the test's own on a free port (so parallel runs, and other people's runs of the
 * same tests, never collide), data under `.brokers/<name>-<pid>` (gitignored), started in the
 * foreground as our child so we own its PID.
 */
export function privateRedis(name: string, options: PrivateRedisOptions = {}): PrivateRedis {
  const dir = join(REPO_ROOT, '.brokers', `${name}-${process.pid}`);
  let child: ChildProcess | undefined;
  let port = 0;
  const server: PrivateRedis = {
    get port() {
      return port;
    },
    get url() {
      return `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
    },
    dir,
    pid: () => child?.pid,
    async start() {
      if (port === 0) port = options.clusterBus ? await freePortWithBus() : await freePort();
      mkdirSync(dir, { recursive: true });
      const listen = options.tls
        ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'no']
        : ['--port', String(port)];
      const config: string[] = [];
      if (options.config !== undefined) {
        writeFileSync(join(dir, 'redis.conf'), options.config);
        config.push(join(dir, 'redis.conf'));
      }
      child = spawn('redis-server', [...config, '--bind', '127.0.0.1', ...listen, '--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log'), ...(options.args ?? [])], {
        stdio: 'ignore',
      });
      const started = child;
      const exited = new Promise<never>((_, reject) => started.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}; see ${join(dir, 'redis.log')}`))));
      exited.catch(() => undefined);
      await Promise.race([waitFor(() => portOpen(port), 10_000, `redis-server on ${port}`), exited]);
    },
    async kill() {
      await stopChild('SIGKILL');
    },
    async stop() {
      await stopChild('SIGTERM');
    },
  };
  async function stopChild(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((r) => running.once('exit', () => r()));
    running.kill(signal);
    await exited;
  }
  return server;
}

/** A free port p ≤ 55535 whose cluster bus port p + 10000 is free too. */
async function freePortWithBus(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const candidate = await freePort();
    if (candidate <= 55_535 && !(await portOpen(candidate + 10_000))) return candidate;
  }
  throw new Error('no free port pair (p, p + 10000) for a cluster node');
}

/** A port nobody listens on right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const chosen = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(chosen));
    });
  });
}

export function wipe(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('error', () => resolvePort(false));
  });
}

/** A private redis-server for the enclosing describe (or file): started clean before its tests, stopped and removed after. */
export function usePrivateRedis(name: string, options: PrivateRedisOptions = {}): PrivateRedis {
  const server = privateRedis(name, options);
  beforeAll(async () => {
    wipe(server.dir);
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    wipe(server.dir);
  });
  return server;
}
