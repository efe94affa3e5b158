/**
 * Serves the chat page with Vite, pointed at a Trellis: the dev server (live reload) for
 * `npm run example:chat`, or a production build served by `vite preview` for the browser test.
 */
import path from 'node:path';
import { build, createServer, preview, type InlineConfig } from 'vite';

export const EXAMPLE_DIR = import.meta.dirname;

export interface ServedPage {
  readonly url: string;
  close(): Promise<void>;
}

function config(apiUrl: string, anonKey: string, port: number): InlineConfig {
  return {
    root: EXAMPLE_DIR,
    configFile: false,
    logLevel: 'warn',
    define: {
      'import.meta.env.VITE_SUPABASE_URL': JSON.stringify(apiUrl),
      'import.meta.env.VITE_SUPABASE_ANON_KEY': JSON.stringify(anonKey),
    },
    server: { host: '127.0.0.1', port, strictPort: true },
    preview: { host: '127.0.0.1', port, strictPort: true },
  };
}

export async function serveDev(apiUrl: string, anonKey: string, port: number): Promise<ServedPage> {
  const server = await createServer(config(apiUrl, anonKey, port));
  await server.listen();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export async function serveBuilt(apiUrl: string, anonKey: string, port: number, outDir: string): Promise<ServedPage> {
  const base = config(apiUrl, anonKey, port);
  await build({ ...base, build: { outDir: path.resolve(outDir), emptyOutDir: true } });
  const server = await preview({ ...base, build: { outDir: path.resolve(outDir) } });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.httpServer.close(() => resolve())),
  };
}
