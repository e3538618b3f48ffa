import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    // Fails fast naming any broker that is down and the command that starts it.
    globalSetup: ['./test/support/global-setup.ts'],
    include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'generator/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
