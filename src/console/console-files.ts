/**
 * The built console (dist/console, made by scripts/build-console.js at install) read
 * into memory once: each file with its type, its entity tag and, where it pays, a gzip
 * copy. Small: an HTML page, a script and a style sheet.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where the build puts the console: dist/console beside dist/src. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** One file of the console, ready to send. */
export interface ConsoleFile {
  readonly type: string;
  readonly etag: string;
  readonly body: Buffer;
  /** The gzip encoding of `body`, when it is smaller. */
  readonly gzip: Buffer | null;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

/** The files under `dir` by their path in URL form (`assets/index-Bx1.js`); empty when the console is not built. */
export function readConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const extension = extname(name);
      const body = readFileSync(path);
      const gzip = COMPRESSIBLE.has(extension) ? gzipSync(body, { level: 9 }) : null;
      files.set(relative(dir, path).split(sep).join('/'), {
        type: TYPES[extension] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        body,
        gzip: gzip !== null && gzip.length < body.length ? gzip : null,
      });
    }
  };
  walk(dir);
  return files;
}

/**
 * The scripts a browser loads before the first view shows, as paths under the console
 * (`assets/index-Bx1.js`): the page's module scripts and the modules it preloads.
 */
export function firstViewScripts(indexHtml: string): string[] {
  const scripts = [...indexHtml.matchAll(/<script[^>]*\bsrc="\/console\/([^"]+)"/g)].map((m) => m[1] as string);
  const preloads = [...indexHtml.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="\/console\/([^"]+)"/g)].map((m) => m[1] as string);
  return [...new Set([...scripts, ...preloads])];
}
