import { defaultClientConditions, defineConfig } from 'vite';

// Workspace packages are bundled from their TypeScript sources (the `@switchyard/source` condition).
export default defineConfig({
  resolve: { conditions: ['@switchyard/source', ...defaultClientConditions] },
  build: { outDir: process.env.WEB_OUT_DIR ?? 'dist', emptyOutDir: true, sourcemap: true },
});
