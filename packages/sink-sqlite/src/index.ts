/**
 * The `sqlite` sink: one row per id in a table (upsert), made durable by `commit(key)`.
 *
 * Exactly-once: rows are upserted as they arrive, inside a transaction that opens at the first
 * write and ends at `commit(key)`, which records `key` in `_batchpipe_commits` in that same
 * transaction; the checkpoint is that record's `seq`. A row that becomes durable before its commit
 * record (see the shared connection in table.ts) is harmless: until the record exists the engine
 * delivers that key again, and the upsert by id overwrites the row. `open` with a checkpoint
 * forgets the commit records of this table after it (so `committed(key)` is false for them and the
 * engine redelivers); their rows stay, and a redelivery overwrites them by id: never a duplicate. A
 * fresh sink (no checkpoint) forgets every commit record of its table and keeps the rows, which
 * later deliveries upsert.
 */
import {
  type Checkpoint,
  columnsOption,
  defineSink,
  makeOutputFolder,
  type PluginProblem,
  type ResultRow,
  z,
} from "@batchpipe/core/plugin";
import { refuseNonFile, sqliteFailure } from "./errors.js";
import { openSqliteTable } from "./table.js";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    // the sources read standard input from "-": here it was a file named "-" beside the spec
    .refine((path) => path !== "-", {
      message:
        'a sink writes a file: "-" would be a file named "-", not standard output; give a file, e.g. ./out/results.db',
    })
    .meta({
      description: "The SQLite database file, relative to the spec file; created with its parent folders.",
      examples: ["./out/results.db"],
    }),
  table: z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "must be a plain SQL identifier (letters, digits, _; not starting with a digit)",
    )
    .default("results")
    .meta({ description: "The table the rows go to; created if missing." }),
  columns: columnsOption.optional(),
});

export type SqliteSinkOptions = z.output<typeof options>;

export default defineSink({
  name: "sqlite",
  options,
  // SQLite table names ignore case: two sinks on "Results" and "results" share one table
  check: ({ options, resolvePath }) => ({
    writes: [{ path: resolvePath(options.path), option: "path", part: options.table.toLowerCase() }],
    problems: reservedTable(options.table),
  }),
  async open({ options, resolvePath, checkpoint, logger }) {
    const path = resolvePath(options.path);
    makeOutputFolder(path, { plugin: "sink:sqlite", option: "path" });
    refuseNonFile(path);
    const warn = (message: string) =>
      logger.warn(`sqlite sink ${options.path} (table ${options.table}): columns: ${message}`);
    // SQLite's errors name no file: `guard` names it, the table and the fix
    const guard = <T>(doing: string, run: () => T): T => {
      try {
        return run();
      } catch (error) {
        throw sqliteFailure(error, path, options.table, doing);
      }
    };
    const table = guard("open", () =>
      openSqliteTable(path, options.table, checkpoint, options.columns, { warn }),
    );
    return {
      async write(rows: readonly ResultRow[]): Promise<void> {
        guard("write", () => table.write(rows));
      },
      async forget(ids: readonly string[]): Promise<void> {
        guard("forget", () => table.forget(ids));
      },
      async commit(key: string): Promise<Checkpoint> {
        return guard("commit", () => table.commit(key));
      },
      async committed(key: string): Promise<boolean> {
        return guard("committed", () => table.committed(key));
      },
      async close(): Promise<void> {
        guard("close", () => table.close());
      },
    };
  },
});

/** SQLite reserves sqlite_* (in any case); the sink keeps its commit records in _batchpipe_commits */
function reservedTable(table: string): PluginProblem[] {
  const hint = "name the table after what it holds, e.g. table: results";
  if (/^sqlite_/i.test(table))
    return [
      {
        option: "table",
        message: `"${table}" is reserved: SQLite owns the names starting with sqlite_`,
        hint,
      },
    ];
  if (table.toLowerCase() === "_batchpipe_commits")
    return [{ option: "table", message: `"${table}" is the sink's own bookkeeping table`, hint }];
  return [];
}
