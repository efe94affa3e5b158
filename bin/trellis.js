#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm install` (prepare) and `npm start` (prestart).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('trellis: not built yet; run `npm run build` in the trellis package');
    process.exit(1);
  }
  throw err;
});
