/**
 * Queries built and compiled once, then run with new values. Kysely builds an operation
 * tree, runs it through the plugins and compiles it to SQL on every call: for the
 * primary-key reads and list pages of the hot routes that costs several times the read
 * itself (a `job_counts` read: ~30 µs of Kysely around ~5 µs of SQLite).
 */
import { CompiledQuery, type Compilable, type DialectAdapter, type Kysely, type Transaction } from 'kysely';
import { databaseOf } from './database.js';
import type { DB } from './schema.js';

/** Stands for a value while the query is compiled; the compiled query's parameter is swapped for the real value on each run. */
class Placeholder {
  constructor(readonly name: string) {}
}

/**
 * A query whose SQL is fixed and whose values are `P`. `build` is called once per
 * database engine with placeholders in place of the values: it must pass each value
 * to Kysely as a value (a comparison's operand, `limit`, a `sql` template argument),
 * never inspect it or compute with it, and it must build the same SQL whatever the
 * values (queries of different shapes are different prepared queries).
 */
export class PreparedQuery<P extends object, R> {
  readonly #compiled = new WeakMap<DialectAdapter, CompiledQuery<R>>();

  constructor(private readonly build: (db: Kysely<DB>, values: P) => Compilable<R>) {}

  /** Runs the query on `db` (the database or a transaction) with these values. */
  async execute(db: Kysely<DB>, values: P): Promise<R[]> {
    const compiled = this.#compile(db);
    const parameters = compiled.parameters.map((p) => (p instanceof Placeholder ? (values as Record<string, unknown>)[p.name] : p));
    return databaseOf(db).runPrepared(db, { ...compiled, parameters });
  }

  /** The first row, or undefined. */
  async executeTakeFirst(db: Kysely<DB>, values: P): Promise<R | undefined> {
    return (await this.execute(db, values))[0];
  }

  #compile(db: Kysely<DB>): CompiledQuery<R> {
    // Compiled SQL depends on the dialect (and its plugins), which the adapter stands for.
    const adapter = db.getExecutor().adapter;
    let compiled = this.#compiled.get(adapter);
    if (compiled === undefined) {
      const placeholders = new Proxy({} as P, { get: (_target, name) => new Placeholder(String(name)) });
      compiled = this.build(db, placeholders).compile();
      this.#compiled.set(adapter, compiled);
    }
    return compiled;
  }
}

/**
 * Prepared queries of several shapes, each built on first use: for a query whose SQL
 * depends on which filters are given (`shape` names the choice, `build` builds it).
 */
export class PreparedQueries<P extends object, R> {
  readonly #byShape = new Map<string, PreparedQuery<P, R>>();

  /** The prepared query of one shape; `build` is used only the first time the shape is seen. */
  of(shape: string, build: (db: Kysely<DB>, values: P) => Compilable<R>): PreparedQuery<P, R> {
    let query = this.#byShape.get(shape);
    if (query === undefined) {
      query = new PreparedQuery(build);
      this.#byShape.set(shape, query);
    }
    return query;
  }
}

/** Stands for one column of one row while a query over rows is compiled. */
class RowPlaceholder {
  constructor(
    readonly row: number,
    readonly column: number,
  ) {}
}

/** A query over rows compiled for one row count: its SQL, and where each parameter's value comes from. */
interface CompiledRows {
  readonly sql: string;
  /** Per parameter: `row * columns + column` for a value of the rows, `-1 - i` for the query's own i-th value. */
  readonly slots: Int32Array;
  readonly own: readonly unknown[];
}

/**
 * A query over a list of rows (a multi-row INSERT, an `IN` list), built and compiled
 * once per engine and row count, then run with new rows. Kysely would otherwise parse
 * every row into its tree and compile 24,000 values into a SQL text of ~75 kB (SQLite)
 * or ~175 kB (PostgreSQL) for every thousand jobs ingested, and both engines would
 * parse that text again.
 *
 * `build` gets placeholder rows, each holding every one of `columns`; as with a
 * {@link PreparedQuery}, it must pass them to Kysely as values and never inspect them.
 * Each row count is compiled once and kept, as its SQL and a slot per parameter (not
 * Kysely's tree and a placeholder object per value, which stay in the heap for good),
 * so callers run a few fixed counts.
 */
export class PreparedRowsQuery<Row extends object, R> {
  readonly #compiled = new WeakMap<DialectAdapter, Map<number, CompiledRows>>();

  constructor(
    private readonly columns: readonly (keyof Row & string)[],
    private readonly build: (db: Kysely<DB>, rows: readonly Row[]) => Compilable<R>,
  ) {}

  /** Runs the query on `db` (the database or a transaction) over these rows. */
  async execute(db: Kysely<DB>, rows: readonly Row[]): Promise<R[]> {
    const compiled = this.#compile(db, rows.length);
    return databaseOf(db).runPrepared(db, CompiledQuery.raw(compiled.sql, this.#parameters(compiled, rows, 0)) as CompiledQuery<R>);
  }

  /**
   * Runs the query compiled for one row once per row, in order, in transaction `tx`
   * ({@link Database.runEach}); resolves to the number of rows each run changed.
   */
  async executeEach(tx: Transaction<DB>, rows: readonly Row[]): Promise<number[]> {
    const compiled = this.#compile(tx, 1);
    return databaseOf(tx).runEach(
      tx,
      compiled.sql,
      rows.map((_, i) => this.#parameters(compiled, rows, i)),
    );
  }

  /** The parameters of `compiled` over the rows from `first` on, as many as it was compiled for. */
  #parameters({ slots, own }: CompiledRows, rows: readonly Row[], first: number): unknown[] {
    const width = this.columns.length;
    const parameters: unknown[] = new Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      parameters[i] = slot < 0 ? own[-1 - slot] : (rows[first + Math.floor(slot / width)] as Record<string, unknown>)[this.columns[slot % width] as string];
    }
    return parameters;
  }

  #compile(db: Kysely<DB>, count: number): CompiledRows {
    const adapter = db.getExecutor().adapter;
    let byCount = this.#compiled.get(adapter);
    if (byCount === undefined) {
      byCount = new Map();
      this.#compiled.set(adapter, byCount);
    }
    let compiled = byCount.get(count);
    if (compiled === undefined) {
      const placeholders = Array.from(
        { length: count },
        (_, row) => Object.fromEntries(this.columns.map((column, i) => [column, new RowPlaceholder(row, i)])) as Row,
      );
      const query = this.build(db, placeholders).compile();
      const own: unknown[] = [];
      const slots = Int32Array.from(query.parameters, (p) => (p instanceof RowPlaceholder ? p.row * this.columns.length + p.column : -own.push(p)));
      compiled = { sql: query.sql, slots, own };
      byCount.set(count, compiled);
    }
    return compiled;
  }
}
