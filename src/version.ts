/** The version of Task Center, as package.json says: what `taskcenter --version` prints and OpenAPI states. */
import { readFileSync } from 'node:fs';

// This file runs as dist/src/version.js: package.json is two folders up.
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
