import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'generator/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
