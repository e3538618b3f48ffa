export * from '../../../../runtime/testing/mirror.ts';
