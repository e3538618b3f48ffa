// Public entry point of `contractbus` (the runtime). Bindings live behind their own subpaths
// (`contractbus/redis`, `/rabbitmq`, `/kafka`) so their client libraries stay optional.
export type * from './core/types.ts';
export * from './core/errors.ts';
export * from './core/headers.ts';
export type * from './core/transport.ts';
