/**
 * The emulator's writes: reset, snapshot import and start-up fixtures. Each goes through
 * the one writer (src/jobs/job-writer.ts) in one transaction: a response or an exit code
 * of 0 means all of it is stored, an error means none of it is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANONYMOUS } from '../auth/principal.js';
import { inTransaction, type Database } from '../db/database.js';
import { ServiceError } from '../errors.js';
import type { JobWriter } from '../jobs/job-writer.js';
import { toReportedJob } from '../jobs/job.js';
import { BatchItem } from '../jobs/jobs.schema.js';
import type { JobService } from '../jobs/jobs.service.js';
import type { JobRow } from '../jobs/jobs.table.js';
import { checkJson } from '../validation.js';
import type { ImportResult } from './emulator.schema.js';
import { deleteSteps } from './progress.store.js';
import { parseSnapshotLine } from './snapshot.service.js';

/** Rows handed to the writer at once during an import: memory stays flat whatever the snapshot's size. */
const IMPORT_BATCH = 1000;

export class EmulatorService {
  constructor(
    private readonly db: Database,
    private readonly writer: JobWriter,
  ) {}

  /** Deletes every job of `projectId` (or of every project) and their pending steps; resolves to how many jobs. */
  async reset(projectId: string | undefined): Promise<number> {
    return inTransaction(this.db, async (tx) => {
      const deleted = await this.writer.delete(tx, { projectId });
      await deleteSteps(tx, projectId);
      return deleted;
    });
  }

  /**
   * Imports a snapshot (NDJSON lines, as `exportJobs` writes them) in one transaction:
   * jobs are written with their stored state, jobs stored exactly so are counted
   * unchanged. `authorize` may refuse a line's project (throw). A bad line throws
   * `invalid_parameter` naming it, and nothing is stored. `onLine` is told each line's
   * length in characters, for progress.
   */
  async import(
    lines: AsyncIterable<string> | Iterable<string>,
    authorize?: (projectId: string, line: number) => void,
    onLine?: (chars: number) => void,
  ): Promise<ImportResult> {
    return this.db.kysely.transaction().execute(async (tx) => {
      let imported = 0;
      let unchanged = 0;
      let batch: JobRow[] = [];
      const flush = async () => {
        const outcome = await this.writer.put(tx, batch);
        imported += outcome.written;
        unchanged += outcome.unchanged;
        batch = [];
      };
      let number = 0;
      for await (const text of lines) {
        number += 1;
        onLine?.(text.length + 1);
        if (text.trim() === '') continue;
        const row = parseSnapshotLine(text, number);
        authorize?.(row.project_id, number);
        batch.push(row);
        if (batch.length >= IMPORT_BATCH) await flush();
      }
      if (batch.length > 0) await flush();
      return { imported, unchanged };
    });
  }
}

/** A fixture entry and where it is: its file and line. */
interface Fixture {
  readonly file: string;
  readonly line: number;
  readonly value: unknown;
}

/** Thrown for a fixture that cannot be loaded: the message names the file and line. */
export class FixtureError extends Error {
  override name = 'FixtureError';
}

/**
 * Loads `--init DIR`: every `*.json` (one job, or an array of jobs) and `*.ndjson` (a job
 * per line) file, in name order. A job is a batch item of the producer API (a job
 * document with its `project_id`), reported through the state machine, so loading the
 * same files again changes nothing; or a snapshot line (with `failure_cleared`,
 * `created_at`, `updated_at`), stored as it says. Resolves to the counts; throws
 * {@link FixtureError} naming the file and line of the first bad job, having stored
 * nothing of that file.
 */
export async function loadFixtures(
  dir: string,
  service: EmulatorService,
  jobs: JobService,
): Promise<{ files: number; created: number; updated: number; unchanged: number; kept: number }> {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.(nd)?json$/.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    throw new FixtureError(`--init ${dir}: ${(error as Error).message}`);
  }
  const totals = { files: names.length, created: 0, updated: 0, unchanged: 0, kept: 0 };
  for (const name of names) {
    const file = join(dir, name);
    const entries = readFixtures(file, readFileSync(file, 'utf8'), name.endsWith('.ndjson'));
    const snapshot = entries.filter((entry) => isSnapshotLine(entry.value));
    const reports = entries.filter((entry) => !isSnapshotLine(entry.value));
    // Every job of the file is checked before any is written: a bad file stores nothing.
    for (const entry of entries) {
      try {
        if (isSnapshotLine(entry.value)) parseSnapshotLine(JSON.stringify(entry.value), entry.line);
        else {
          const { project_id, ...doc } = checkJson<BatchItem>(BatchItem, entry.value);
          toReportedJob(project_id, doc);
        }
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        throw new FixtureError(`${entry.file}:${entry.line}: ${error.message.replace(/^line \d+: /, '')}`);
      }
    }
    for (let start = 0; start < reports.length; start += 1000) {
      const chunk = reports.slice(start, start + 1000);
      const outcomes = await jobs.reportBatch(
        ANONYMOUS,
        chunk.map((entry) => entry.value),
      );
      outcomes.forEach((outcome, i) => {
        const entry = chunk[i] as Fixture;
        if (outcome.result === 'rejected' && outcome.error?.kind === 'conflict') totals.kept += 1;
        else if (outcome.result === 'rejected') throw new FixtureError(`${entry.file}:${entry.line}: ${outcome.error?.message ?? 'rejected'}`);
        else totals[outcome.result] += 1;
      });
    }
    if (snapshot.length > 0) {
      try {
        const result = await service.import(
          (function* () {
            for (const entry of snapshot) yield JSON.stringify(entry.value);
          })(),
        );
        totals.updated += result.imported;
        totals.unchanged += result.unchanged;
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        const index = Number(/^line (\d+)/.exec(error.message)?.[1] ?? 1) - 1;
        throw new FixtureError(`${file}:${snapshot[index]?.line ?? 1}: ${error.message.replace(/^line \d+: /, '')}`);
      }
    }
  }
  return totals;
}

function isSnapshotLine(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'created_at' in value;
}

/** The entries of a fixture file with the line each starts on; throws {@link FixtureError} for text that is not JSON. */
function readFixtures(file: string, text: string, ndjson: boolean): Fixture[] {
  if (ndjson) {
    const out: Fixture[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        out.push({ file, line: i + 1, value: JSON.parse(line) });
      } catch (error) {
        throw new FixtureError(`${file}:${i + 1}: not valid JSON: ${(error as Error).message}`);
      }
    });
    return out;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = Number(/position (\d+)/.exec(message)?.[1] ?? NaN);
    const line = Number.isNaN(position) ? 1 : lineAt(text, position);
    throw new FixtureError(`${file}:${line}: not valid JSON: ${message}`);
  }
  if (!Array.isArray(value)) return [{ file, line: lineAt(text, text.search(/\S/)), value }];
  const starts = elementStarts(text);
  return value.map((item, i) => ({ file, line: lineAt(text, starts[i] ?? 0), value: item }));
}

/** The 1-based line of character `offset`. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Where each element of the top-level array in (valid JSON) `text` starts. */
function elementStarts(text: string): number[] {
  const starts: number[] = [];
  let depth = 0;
  let inString = false;
  let expecting = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (expecting && depth === 1) {
      starts.push(i);
      expecting = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth += 1;
      if (depth === 1) expecting = true;
    } else if (c === ']' || c === '}') depth -= 1;
    else if (c === ',' && depth === 1) expecting = true;
  }
  return starts;
}
