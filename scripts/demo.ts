/**
 * `npm run demo`: generate a typed client from asyncapi/shop.yaml and run a small service on the
 * in-memory broker, printing what happens. No broker server needed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;

function step(title: string, args: string[]): void {
  console.log(`\n── ${title}\n$ node ${args.join(' ')}`);
  const result = spawnSync(node, ['--conditions=development', ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, MESSAGE_BROKER_URL: process.env['MESSAGE_BROKER_URL'] ?? 'memory://' } });
  if (result.status !== 0) {
    console.error(`\ndemo: "${title}" failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

step('1. generate the typed client from the contract', [
  'generator/cli.ts', 'generate', 'asyncapi/shop.yaml', '-o', 'examples/generated-service/src/generated', '--import-extension', '.ts', '--mirror',
]);
step(`2. run the service on ${process.env['MESSAGE_BROKER_URL'] ?? 'the in-memory broker'} (MESSAGE_BROKER_URL switches it)`, ['examples/generated-service/src/main.ts']);
console.log('\ndemo: done. Next: `npm test` starts real Redis, RabbitMQ and Kafka on 127.0.0.1 and runs every test; MESSAGE_BROKER_URL=kafka://127.0.0.1:9092 npm run demo runs this service on Kafka.');
