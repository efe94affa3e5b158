// The Studio dashboard's build (`npm run build`): studio/web -> dist/studio-web, served by src/studio at /studio.
// Preact components in TSX: Vite 8 transforms TypeScript and JSX with Oxc (its `esbuild` option is deprecated and
// mapped onto this one), with Preact's automatic runtime, so no plugin is needed.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/studio/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/studio-web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
});
