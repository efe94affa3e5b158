// The Studio dashboard's build (`npm run build`): studio/web -> dist/studio-web, served by src/studio at /studio.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/studio/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/studio-web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
});
