import { defineConfig } from 'vitest/config';

const faultTests = 'test/integration/**/faults.test.ts';

export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    // Fails fast naming any broker that is down and the command that starts it.
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'generator/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: ['**/node_modules/**', faultTests],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Fault tests stop and restart the shared brokers: they run after everything else,
        // one file at a time, so no other test sees a broker vanish under it.
        extends: true,
        test: {
          name: 'faults',
          include: [faultTests],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
