/**
 * The sqlite sink's table columns: a new table created with them, an existing one fitted to them
 * (columns it lacks added), or refused at open with the columns list that fixes it.
 */
import {
  BatchpipeError,
  type Column,
  type ColumnKind,
  columnsOption,
  unwrittenColumnsWarning,
} from "@batchpipe/core/plugin";
import type Database from "better-sqlite3";

/** how a created table declares a column of each kind; a path's value keeps its own type */
const DECLARED: Record<ColumnKind, string> = {
  text: "TEXT",
  integer: "INTEGER",
  time: "TEXT",
  json: "TEXT",
  value: "",
};

/**
 * Create the table with `columns`, or fit an existing one: the columns it lacks are added (with
 * the default projection, the sink writes only those it has: a table someone else made keeps its
 * shape); a NOT NULL column without a default that the sink would not write fails here, not at the
 * first row. Every check runs before the table changes, so a refused open leaves it as it was.
 */
export function prepareColumns(
  db: Database.Database,
  path: string,
  table: string,
  columns: Column[],
  isDefault: boolean,
  warn?: (message: string) => void,
): Column[] {
  const quoted = `"${table}"`;
  const fail = (message: string, hint: string) =>
    new BatchpipeError("PLUGIN_FAILED", `${path}: table "${table}" ${message}`, {
      hint,
      plugin: "sink:sqlite",
    });
  // two names SQLite takes for one ({ Tokens: … } beside { tokens: … }) never get here: the
  // columns option refuses them (rows/projection.ts)
  const declare = (c: Column) =>
    c.name === "id"
      ? `"id" TEXT PRIMARY KEY NOT NULL`
      : `"${c.name}" ${DECLARED[c.kind]}${c.name === "status" || c.kind === "time" ? " NOT NULL" : ""}`.trimEnd();
  const tableInfo = () =>
    db.prepare(`PRAGMA table_info(${quoted})`).all() as {
      name: string;
      notnull: number;
      dflt_value: unknown;
      pk: number;
    }[];
  let existing = tableInfo();
  if (existing.length === 0) {
    // IF NOT EXISTS: another process may create it first; the checks below then hold it to them
    db.exec(`CREATE TABLE IF NOT EXISTS ${quoted} (${columns.map(declare).join(", ")})`);
    existing = tableInfo();
  }
  const has = new Set(existing.map((c) => c.name.toLowerCase()));
  if (!has.has("id")) throw fail("has no id column", "Add one, or name another table.");
  // the upsert's ON CONFLICT(id) needs it (SQLite refused the statement: "ON CONFLICT clause does
  // not match any PRIMARY KEY or UNIQUE constraint")
  if (!idIsUnique(db, quoted, existing))
    throw fail(
      "has an id column that is not its primary key nor unique, so rows cannot be upserted by id",
      `Make it unique (CREATE UNIQUE INDEX "${table}_id" ON ${quoted} (id), once its ids are unique), or name another table.`,
    );
  const written = isDefault ? columns.filter((c) => has.has(c.name.toLowerCase())) : columns;
  const names = new Set(written.map((c) => c.name.toLowerCase()));
  const missing = existing
    .filter((c) => c.notnull && c.dflt_value === null && !c.pk && !names.has(c.name.toLowerCase()))
    .map((c) => c.name);
  if (missing.length > 0) {
    const message = `has NOT NULL column(s) ${missing.join(", ")} that the sink's columns do not write`;
    // the entry that writes a missing column is its row field (e.g. created_at), if it is one
    // (SQLite's column names ignore case: Created_At is written by created_at)
    const entries = missing.map((name) => [name, name.toLowerCase()].find(isEntry));
    const none = missing.filter((_, i) => entries[i] === undefined);
    if (none.length > 0)
      throw fail(
        message,
        `No columns entry writes ${none.join(", ")} (not a row field): name another table, or recreate this one with them nullable or with a default.`,
      );
    throw fail(
      message,
      `Add them to columns (e.g. columns: [${[...written.map(specEntry), ...entries].join(", ")}]), or name another table.`,
    );
  }
  // the upsert writes only these columns: the table's others keep an earlier run's values in the
  // rows this run writes again (a tokens column beside a new output)
  const kept = existing.filter((c) => !c.pk && !names.has(c.name.toLowerCase())).map((c) => c.name);
  if (warn && kept.length > 0 && db.prepare(`SELECT 1 FROM ${quoted} LIMIT 1`).get() !== undefined)
    warn(unwrittenColumnsWarning(kept, quoted));
  const added = isDefault ? [] : columns.filter((c) => !has.has(c.name.toLowerCase()));
  if (added.length > 0) {
    // all or none (in another sink's open transaction, a savepoint of it)
    db.transaction(() => {
      // ADD COLUMN cannot add NOT NULL without a default: added columns allow NULL
      for (const c of added) db.exec(`ALTER TABLE ${quoted} ADD COLUMN "${c.name}" ${DECLARED[c.kind]}`);
    }).immediate();
  }
  return written;
}

/** whether `id` alone is the primary key or has a unique index without a WHERE (SQLite compares names without case) */
function idIsUnique(
  db: Database.Database,
  quoted: string,
  existing: { name: string; pk: number }[],
): boolean {
  const key = existing.filter((c) => c.pk > 0);
  if (key.length === 1 && key[0]!.name.toLowerCase() === "id") return true;
  const indexes = db.prepare(`PRAGMA index_list(${quoted})`).all() as {
    name: string;
    unique: number;
    partial: number;
  }[];
  return indexes.some((index) => {
    if (!index.unique || index.partial) return false;
    const names = db.prepare(`PRAGMA index_info("${index.name.replaceAll('"', '""')}")`).all() as {
      name: string | null;
    }[];
    return names.length === 1 && names[0]!.name?.toLowerCase() === "id";
  });
}

/**
 * The `columns:` entry that makes column `c`, as a user writes it: its path (`output.sentiment`
 * makes output_sentiment), or `{ name: path }` when it is renamed; `source_file` and `source_line`
 * as such (their path is source.file, source.line).
 */
function specEntry(c: Column): string {
  const plain = c.path.join("_");
  if (c.name !== plain) return `{ ${c.name}: ${c.path.join(".")} }`;
  return c.path[0] === "source" ? plain : c.path.join(".");
}

/** whether `name` alone is a valid `columns:` entry (a row field, source_file, source_line, created_at) */
function isEntry(name: string): boolean {
  return columnsOption.safeParse([name]).success;
}
