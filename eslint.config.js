// Lint holds the meaning of the code so review does not have to; formatting is Prettier's
// (`npm run format:check`). Both run first in `npm test`.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import local from './eslint-rules/index.js';

/** Imports no file of src/ outside src/db/ may make: only db/ knows the SQL engine. */
const DRIVERS = [
  { name: 'pg', message: 'Only src/db/ knows the SQL engine; take a Database or a Kysely handle.' },
  { name: 'better-sqlite3', message: 'Only src/db/ knows the SQL engine; take a Database or a Kysely handle.' },
];
/** V8 flags are the process's, set where it starts (bin/taskcenter.js), never by code that can be imported. */
const V8_FLAGS = { name: 'node:v8', importNames: ['setFlagsFromString'], message: 'Set V8 flags in bin/taskcenter.js, where the process starts.' };
const HTTP = {
  paths: [{ name: 'fastify', message: 'Stores and services know no HTTP: routes turn requests into calls.' }],
  patterns: [{ group: ['@fastify/*'], message: 'Stores and services know no HTTP: routes turn requests into calls.' }],
};
const ENV = { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Only src/config.ts reads the environment; take the Config.' };
const SQL = {
  selector: 'CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom)$/]',
  message: 'SQL is built only in *.store.ts files and src/db/.',
};
const STORES = ['src/**/*.store.ts'];
const SERVICES = ['src/**/*.service.ts'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/results/', 'bench/data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // Rest destructuring drops fields by naming them (`const { cleared: _cleared, ...rest }`);
      // a leading underscore says the name is unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // The shape of src/ (DESIGN.md "Dependencies point one way", STYLE.md 2 and 4);
    // eslint-rules/index.js says what each rule holds, test/code/lint.test.ts that each fires.
    files: ['src/**/*.{ts,tsx}'],
    plugins: { local },
    rules: {
      // import-x/no-cycle skips `import type`; this one counts every import.
      'local/no-import-cycle': 'error',
      'local/layers': 'error',
      'local/db-imports-no-domain': 'error',
      'local/jobs-imports-no-dialect': 'error',
      'local/one-writer': 'error',
      'local/dialects-apart': 'error',
      'no-restricted-imports': ['error', { paths: [...DRIVERS, V8_FLAGS] }],
      'no-restricted-syntax': ['error', ENV, SQL],
    },
  },
  {
    files: [...STORES, ...SERVICES],
    rules: { 'no-restricted-imports': ['error', { paths: [...DRIVERS, V8_FLAGS, ...HTTP.paths], patterns: HTTP.patterns }] },
  },
  { files: ['src/db/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [V8_FLAGS] }] } },
  { files: ['src/db/**/*.ts', ...STORES], rules: { 'no-restricted-syntax': ['error', ENV] } },
  { files: ['src/config.ts'], rules: { 'no-restricted-syntax': ['error', SQL] } },
  {
    // The web console runs in the browser (src/console/web/tsconfig.json gives it the DOM).
    files: ['src/console/web/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Tests read parsed response bodies freely; their assertions are what check the shape.
    files: ['test/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
