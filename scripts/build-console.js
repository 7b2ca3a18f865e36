#!/usr/bin/env node
// Builds the web console (src/console/web) into dist/console with Vite, after tsc has
// built dist/src, and prints the gzipped size of the JavaScript the first view loads
// (budget 150 KB; test/console/console-files.test.ts holds it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { firstViewScripts } from '../dist/src/console/console-files.js';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'dist', 'console');

await build({
  configFile: false,
  root: join(root, 'src', 'console', 'web'),
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // Every browser the console supports loads modules natively.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});

const scripts = firstViewScripts(readFileSync(join(outDir, 'index.html'), 'utf8'));
const gzipped = scripts.reduce((sum, path) => sum + gzipSync(readFileSync(join(outDir, path)), { level: 9 }).length, 0);
console.log(`console built into dist/console: first view JavaScript ${(gzipped / 1024).toFixed(1)} KB gzipped (${scripts.join(', ')}; budget 150 KB)`);
