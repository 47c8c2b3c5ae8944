// Bundles the dashboard into web/dist, the folder `seqcast serve` serves (src/server/static-files.ts).

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  // relative asset URLs: the page works wherever the server mounts it
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 200,
    rollupOptions: {
      onwarn(warning, warn) {
        // the local mode's worker bundles src/api, whose file paths (loading a model from a path, saving one atomically)
        // import node:fs, node:path and node:crypto; the page passes bytes and never saves, so vite's empty stand-ins are right
        if (/"node:(fs\/promises|path|crypto)" has been externalized for browser compatibility, imported by ".*\/src\/(api\/load|io\/atomic-file)\.ts"/.test(warning.message)) return;
        warn(warning);
      },
    },
  },
});
