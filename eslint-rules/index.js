// The import rules that hold the shape DESIGN.md draws ("Dependencies point one way"),
// as an ESLint plugin of this repository. eslint-plugin-import-x has a cycle rule, but it
// skips `import type` (a cycle of types is still a cycle in the design), so these rules
// read the imports themselves: every static, type-only, re-exporting and dynamic import
// of a relative path counts. test/code/lint.test.ts shows each rule firing.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** The file a relative import names, or null for a package or a file that is not there. */
function resolveImport(fromFile, specifier) {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = /\.[cm]?js$/.test(base)
    ? [base.replace(/js$/, 'ts'), base.replace(/\.js$/, '.tsx'), base]
    : /\.jsx$/.test(base)
      ? [base.replace(/\.jsx$/, '.tsx'), base]
      : [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')];
  return candidates.find((path) => existsSync(path) && statSync(path).isFile()) ?? null;
}

/** `path` relative to the linted project's root, with forward slashes. */
function projectPath(cwd, path) {
  return relative(cwd, path).split(sep).join('/');
}

/** Calls `report(node, specifier)` for every import of the linted file that names a module. */
function visitImports(report) {
  const literal = (node, source) => {
    if (source?.type === 'Literal' && typeof source.value === 'string') report(node, source.value);
  };
  return {
    ImportDeclaration: (node) => literal(node, node.source),
    ExportNamedDeclaration: (node) => literal(node, node.source),
    ExportAllDeclaration: (node) => literal(node, node.source),
    ImportExpression: (node) => literal(node, node.source),
    // `import('./x.js').Type` in a type position.
    TSImportType: (node) => literal(node, node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument),
  };
}

/** A file's imports as found on disk, kept while the file is unchanged. */
const importsOnDisk = new Map();

function importsOf(file) {
  const mtime = statSync(file).mtimeMs;
  const kept = importsOnDisk.get(file);
  if (kept?.mtime === mtime) return kept.targets;
  // preProcessFile finds static, type-only, re-exporting and dynamic imports alike.
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets = [...new Set(importedFiles.map((f) => resolveImport(file, f.fileName)).filter((t) => t !== null))];
  importsOnDisk.set(file, { mtime, targets });
  return targets;
}

/** The shortest chain of imports from `start` to `goal` inside `within`, or null. */
function importPath(start, goal, within) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    if (file === goal) {
      const path = [];
      for (let at = file; at !== null; at = previous.get(at)) path.unshift(at);
      return path;
    }
    for (const next of importsOf(file)) {
      if (previous.has(next) || !within(next)) continue;
      previous.set(next, file);
      queue.push(next);
    }
  }
  return null;
}

const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbids import cycles inside src/, type-only and dynamic imports included' },
    schema: [],
    messages: { cycle: 'Import cycle: {{path}}. Type-only imports count: a cycle of types is still a cycle in the design.' },
  },
  create(context) {
    const file = context.physicalFilename;
    const src = join(context.cwd, 'src') + sep;
    if (!file.startsWith(src)) return {};
    return visitImports((node, specifier) => {
      const target = resolveImport(file, specifier);
      if (target === null || !target.startsWith(src) || target === file) return;
      const back = importPath(target, file, (path) => path.startsWith(src));
      if (back === null) return;
      const path = [file, ...back].map((p) => projectPath(context.cwd, p)).join(' → ');
      context.report({ node, messageId: 'cycle', data: { path } });
    });
  },
};

/**
 * The layers of DESIGN.md, outermost first: a file may import its own layer and the ones
 * after it, never one before. Files of no layer (schemas, presenters, the job model,
 * errors, config, paging) may be imported by any layer and never import cli or app/context.
 */
const LAYERS = [
  // Entry points: the command line, and the package's testing helper that starts a server in-process.
  { name: 'cli', test: (p) => p.startsWith('src/cli/') || p === 'src/emulator/testing.ts' },
  { name: 'app/context', test: (p) => p === 'src/app.ts' || p === 'src/context.ts' },
  { name: 'routes', test: (p) => /\.(routes|hook)\.tsx?$/.test(p) || p.startsWith('src/gateway/') },
  { name: 'service', test: (p) => /\.service\.ts$/.test(p) },
  { name: 'store', test: (p) => /\.store\.ts$/.test(p) },
  // Row types are the database's schema, kept beside their domain (STYLE.md 1).
  { name: 'db', test: (p) => p.startsWith('src/db/') || /\.table\.ts$/.test(p) },
];

function layerOf(path) {
  const index = LAYERS.findIndex((layer) => layer.test(path));
  return index === -1 ? null : index;
}

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports point one way: cli → app/context → routes → service → store → db' },
    schema: [],
    messages: {
      upward:
        '{{file}} ({{from}}) imports {{target}} ({{to}}): imports point one way, cli → app/context → routes → service → store → db; pass what it needs down instead.',
    },
  },
  create(context) {
    const file = projectPath(context.cwd, context.physicalFilename);
    if (!file.startsWith('src/')) return {};
    const own = layerOf(file);
    // A file of no layer may import any but the two outermost.
    const outermostAllowed = own ?? 2;
    return visitImports((node, specifier) => {
      const resolved = resolveImport(context.physicalFilename, specifier);
      if (resolved === null) return;
      const target = projectPath(context.cwd, resolved);
      const theirs = layerOf(target);
      if (theirs === null || theirs >= outermostAllowed) return;
      context.report({
        node,
        messageId: 'upward',
        data: { file, from: own === null ? 'no layer' : LAYERS[own].name, target, to: LAYERS[theirs].name },
      });
    });
  },
};

/**
 * A rule forbidding files matching `from` to import files matching `to(imported, importer)`
 * (unless `except` matches the imported file), with `message` saying why.
 */
function boundary({ description, from, to, except = () => false, message }) {
  return {
    meta: { type: 'problem', docs: { description }, schema: [], messages: { crossed: `{{file}} imports {{target}}: ${message}` } },
    create(context) {
      const file = projectPath(context.cwd, context.physicalFilename);
      if (!from(file)) return {};
      return visitImports((node, specifier) => {
        const resolved = resolveImport(context.physicalFilename, specifier);
        if (resolved === null) return;
        const target = projectPath(context.cwd, resolved);
        if (to(target, file) && !except(target)) context.report({ node, messageId: 'crossed', data: { file, target } });
      });
    },
  };
}

/** The tables only the one writer (src/jobs/job-writer.ts, its SQL in job-writer.store.ts) writes. */
const WRITER_TABLES = /^(jobs|job_counts|list_versions)$/;
const WRITER_SQL = /\b(insert\s+into|update|delete\s+from)\s+"?(jobs|job_counts|list_versions)\b/i;
const WRITER_STORE = 'src/jobs/job-writer.store.ts';

const oneWriter = {
  meta: {
    type: 'problem',
    docs: { description: 'jobs, job_counts and list_versions are written only by src/jobs/job-writer.ts (its SQL in job-writer.store.ts)' },
    schema: [],
    messages: {
      writes:
        '{{file}} writes {{table}}: jobs and their derived data (job_counts, list_versions) are written only through the one writer, src/jobs/job-writer.ts.',
      imports: "{{file}} imports the writer's SQL: only src/jobs/job-writer.ts may, so every write goes through the writer.",
    },
  },
  create(context) {
    const file = projectPath(context.cwd, context.physicalFilename);
    if (!file.startsWith('src/') || file === WRITER_STORE || file.startsWith('src/db/migrations/')) return {};
    const text = (node, value) => {
      const match = typeof value === 'string' ? WRITER_SQL.exec(value) : null;
      if (match !== null) context.report({ node, messageId: 'writes', data: { file, table: match[2] } });
    };
    return {
      ...visitImports((node, specifier) => {
        if (file === 'src/jobs/job-writer.ts') return;
        const resolved = resolveImport(context.physicalFilename, specifier);
        if (resolved !== null && projectPath(context.cwd, resolved) === WRITER_STORE) context.report({ node, messageId: 'imports', data: { file } });
      }),
      CallExpression(node) {
        const name = node.callee.type === 'MemberExpression' ? node.callee.property.name : undefined;
        const [table] = node.arguments;
        if (!/^(insertInto|updateTable|deleteFrom)$/.test(name ?? '') || table?.type !== 'Literal') return;
        const base = String(table.value).split(/\s+/)[0];
        if (WRITER_TABLES.test(base)) context.report({ node, messageId: 'writes', data: { file, table: base } });
      },
      Literal: (node) => text(node, node.value),
      TemplateElement: (node) => text(node, node.value.cooked ?? node.value.raw),
    };
  },
};

const DIALECTS = ['src/sdrs/', 'src/kps/'];
const inDialect = (p) => DIALECTS.some((d) => p.startsWith(d));
/** The parts of src/ that are no domain: the shared kernel a store may use too. */
const KERNEL = new Set(['src/errors.ts', 'src/paging.ts', 'src/validation.ts', 'src/version.ts', 'src/rendered-json.ts', 'src/config.ts']);

export default {
  meta: { name: 'taskcenter-local' },
  rules: {
    'no-import-cycle': noImportCycle,
    layers,
    'one-writer': oneWriter,
    'db-imports-no-domain': boundary({
      description: 'src/db/ imports only itself, the shared kernel and the row types (*.table.ts)',
      from: (p) => p.startsWith('src/db/'),
      to: (p) => p.startsWith('src/') && !p.startsWith('src/db/'),
      except: (p) => KERNEL.has(p) || /\.table\.ts$/.test(p),
      message: 'src/db/ knows no domain (only the row types of *.table.ts and the shared kernel); the domain passes what db/ needs.',
    }),
    'jobs-imports-no-dialect': boundary({
      description: 'src/jobs/ never imports a service dialect (src/sdrs/, src/kps/)',
      from: (p) => p.startsWith('src/jobs/'),
      to: inDialect,
      message: 'src/jobs/ never imports a service dialect; a dialect supplies what jobs/ needs through an interface jobs/ declares, wired in by the context.',
    }),
    'dialects-apart': boundary({
      description: 'src/sdrs/ and src/kps/ never import each other',
      from: inDialect,
      to: (target, file) => inDialect(target) && target.split('/')[1] !== file.split('/')[1],
      message: 'src/sdrs/ and src/kps/ never import each other; what both need belongs in src/jobs/.',
    }),
  },
};
