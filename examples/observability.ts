/**
 * Tracing, metrics, health and redacted logs for a contractbus service.
 *
 * - OpenTelemetry: the runtime uses only `@opentelemetry/api`; the application installs an SDK
 *   (here: the trace SDK with a console-style exporter, W3C propagation, AsyncLocalStorage context).
 *   Publishes get a PRODUCER span "send <topic>" and carry `traceparent` in the message headers;
 *   handlers run inside a CONSUMER span "process <topic>" parented from those headers.
 * - `/health/live`, `/health/ready`, `/health` and `/metrics` (Prometheus, via prom-client) from one
 *   handler that plugs into node:http, Express (`app.use(handler)`) or Fastify
 *   (`reply.hijack(); handler(request.raw, reply.raw)`).
 * - A logger wrapper that masks passwords in URLs, option objects and error messages.
 *
 *   node --conditions=development examples/observability.ts            (exits when done)
 *   PORT=9464 KEEP=1 node --conditions=development examples/observability.ts   (keeps serving)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { MemoryBroker, consoleLogger } from 'contractbus';
// Once the package exports the subpath: `from 'contractbus/observability'`.
import { MessagingInstrumentation, createObservabilityHandler, createRedactingLogger } from '../runtime/observability/index.ts';

// 1. The application's OpenTelemetry setup (normally @opentelemetry/sdk-node with an OTLP exporter).
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const spans = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
trace.setGlobalTracerProvider(tracerProvider);

// 2. Two services on one in-process hub, logging through the redacting wrapper.
const logger = createRedactingLogger(consoleLogger('warn'));
// `hooks`: spans around each publish round trip and each handler attempt. (`instrumentBroker(broker)`
// gives the same from the outside, for any MessageBroker.)
const orders = new MemoryBroker({ hub: 'shop', logger, hooks: new MessagingInstrumentation({ broker: 'memory' }) });
const billing = new MemoryBroker({ hub: 'shop', logger, hooks: new MessagingInstrumentation({ broker: 'memory' }) });
await orders.connect();
await billing.connect();

let charged = 0;
await billing.subscribe('shop.orders.placed', async (order: { orderId: string; total: number }, meta) => {
  // Spans started here are children of "process shop.orders.placed"; the publish below continues the trace.
  await billing.publish('shop.payments.charged', { orderId: order.orderId, amount: order.total }, { correlationId: meta.correlationId });
}, { group: 'billing' });
await orders.subscribe('shop.payments.charged', () => {
  charged++;
}, { group: 'orders' });

// 3. Health and metrics over HTTP.
const handler = createObservabilityHandler({ brokers: { orders, billing } });
const server = createServer((req, res) => handler(req, res, () => {
  res.statusCode = 404;
  res.end('not an observability path\n');
}));
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// 4. Traffic: one request span → send → process → send → process, one trace.
const request = trace.getTracer('example').startSpan('POST /orders');
await context.with(trace.setSpan(context.active(), request), () =>
  orders.publish('shop.orders.placed', { orderId: 'o-1', total: 42 }, { correlationId: 'req-1' }),
);
request.end();
while (charged < 1) await new Promise((resolve) => setTimeout(resolve, 5));

console.log('trace:');
const finished = spans.getFinishedSpans();
const byId = new Map(finished.map((span) => [span.spanContext().spanId, span]));
const depth = (span: (typeof finished)[number]): number => {
  const parent = span.parentSpanContext && byId.get(span.parentSpanContext.spanId);
  return parent ? depth(parent) + 1 : 0;
};
for (const span of [...finished].sort((a, b) => depth(a) - depth(b))) {
  console.log(`  ${'  '.repeat(depth(span))}${span.name}  trace=${span.spanContext().traceId.slice(0, 8)}…  ${String(span.attributes['messaging.system'] ?? '')}`);
}

console.log(`\nGET ${base}/health/ready →`, (await fetch(`${base}/health/ready`)).status);
const metrics = await (await fetch(`${base}/metrics`)).text();
console.log(`GET ${base}/metrics (excerpt):`);
for (const line of metrics.split('\n').filter((l) => l.startsWith('contractbus_messages_'))) console.log(`  ${line}`);

// 5. Redaction: the secret never reaches the log line (printed on stderr).
console.log('\nlog line:');
logger.warn({ url: 'amqp://billing:hunter2@mq.internal:5672', sasl: { mechanism: 'plain', username: 'svc', password: 'hunter2' } }, 'example: what a leaked connection string looks like');

if (process.env.KEEP) {
  console.log(`\nserving ${base}/health and ${base}/metrics; Ctrl-C to stop`);
} else {
  server.close();
  await orders.disconnect();
  await billing.disconnect();
  await tracerProvider.shutdown();
}
