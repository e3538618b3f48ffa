export type * from '../../../../runtime/core/types.ts';
export * from '../../../../runtime/core/errors.ts';
export * from '../../../../runtime/core/validation.ts';
export * from '../../../../runtime/core/channel.ts';
