/**
 * The sink's table: created if missing, or an existing one inspected (which of the sink's columns
 * it has, of which types; an `id` it can upsert on), the commit records, and the upsert statement.
 */

import type { Column } from "@batchpipe/core/plugin";
import { BatchpipeError } from "@batchpipe/core/plugin";
import type pg from "pg";
import { createType, type Getter } from "./columns.js";

export const COMMITS = "_batchpipe_commits";
/** one lock for every sink's DDL, so two sinks creating the commit table at once do not collide */
const DDL_LOCK = 0x62_70_73_6b; // "bpsk"

export interface Target {
  schema: string;
  table: string;
  /** the projection's columns (id and status first) */
  columns: readonly Column[];
  /** the default projection: an existing table keeps its shape (the sink writes the columns it has) */
  isDefault: boolean;
}

export interface Upsert {
  /** takes the rows as one JSON array of arrays ($1) */
  sql: string;
  /** the value of each place in a row's array */
  getters: Getter[];
  /** the columns it inserts, and those it updates on conflict */
  inserted: string[];
  updated: string[];
  /** the type each written value is cast to, by column (to name the column a value did not fit) */
  casts: { name: string; type: string }[];
  /** deletes the rows of the ids ($1, a text array) */
  forget: string;
  /** the table in lower case, when the sink created this one beside it (set by prepareTable) */
  twin?: string | undefined;
  /**
   * the table's columns it does not write (besides generated and identity ones): in a row it writes
   * again they keep what an earlier run left there
   */
  unwritten: string[];
}

/** `"schema"."name"` (names are validated identifiers; quoting keeps their case) */
export function qualified(schema: string, name: string): string {
  return `"${schema}"."${name}"`;
}

/**
 * Create the table and the commit records if missing (under the DDL lock, in the caller's
 * transaction) and return the upsert for the table's columns.
 */
export async function prepareTable(client: pg.Client, target: Target): Promise<Upsert> {
  const table = qualified(target.schema, target.table);
  await client.query("SELECT pg_advisory_xact_lock($1)", [DDL_LOCK]);
  const declarations = target.columns.map((c) => `"${c.name}" ${createType(c)}`);
  const created = await createIfMissing(client, table, declarations.join(", "));
  // an unquoted CREATE TABLE Sentiment made sentiment: the sink (which quotes) made a second table
  const lower = target.table.toLowerCase();
  const twin =
    created && lower !== target.table && (await exists(client, qualified(target.schema, lower)))
      ? qualified(target.schema, lower)
      : undefined;
  await createIfMissing(
    client,
    qualified(target.schema, COMMITS),
    `seq bigserial PRIMARY KEY,
     table_name text NOT NULL,
     key text NOT NULL,
     committed_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (table_name, key)`,
  );
  let columns = await tableColumns(client, table);
  checkTable(columns, table, target.columns);
  if (!target.isDefault) {
    // listed columns an existing table lacks are added (NULL allowed: its rows have no value)
    const has = new Set(columns.map((c) => c.name));
    const missing = target.columns.filter((c) => !has.has(c.name));
    for (const c of missing) {
      const type = createType(c).replace(" NOT NULL DEFAULT now()", " DEFAULT now()");
      await client.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS "${c.name}" ${type}`);
    }
    if (missing.length > 0) columns = await tableColumns(client, table);
  }
  return { ...upsertFor(columns, table, target.columns), twin };
}

/**
 * Refuse at open a role that could not write the rows: without INSERT or UPDATE the first write
 * failed, after the run had paid for its batches. SELECT on the table, and SELECT and DELETE on the
 * commit records, are used by open itself. DELETE on the table is needed only when it holds rows
 * (forget() removes stale rows of earlier runs).
 */
export async function checkPrivileges(
  client: pg.Client,
  o: { schema: string; table: string; upsert: Upsert; deletes: boolean },
): Promise<void> {
  const table = qualified(o.schema, o.table);
  const commits = qualified(o.schema, COMMITS);
  const needs: [relation: string, privilege: string, column: string | null][] = [
    ...o.upsert.inserted.map((c): [string, string, string] => [table, "INSERT", c]),
    ...o.upsert.updated.map((c): [string, string, string] => [table, "UPDATE", c]),
    ...(o.deletes ? [[table, "DELETE", null] as [string, string, null]] : []),
    [commits, "INSERT", null],
    [commits, "UPDATE", null],
  ];
  const { rows } = await client.query<{ i: string }>(
    `SELECT i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS n(rel, priv, col, i)
      WHERE NOT CASE WHEN col IS NULL THEN has_table_privilege(rel, priv)
                     ELSE has_column_privilege(rel, col, priv) END`,
    [needs.map((n) => n[0]), needs.map((n) => n[1]), needs.map((n) => n[2])],
  );
  if (rows.length === 0) return;
  // relation → privilege → the columns it lacks it on (none: the whole table)
  const missing = new Map<string, Map<string, string[]>>();
  for (const { i } of rows) {
    const [relation, privilege, column] = needs[Number(i) - 1]!;
    const privileges = missing.get(relation) ?? new Map<string, string[]>();
    missing.set(
      relation,
      privileges.set(privilege, [...(privileges.get(privilege) ?? []), ...(column ? [column] : [])]),
    );
  }
  const { rows: role } = await client.query<{ name: string }>("SELECT current_user AS name");
  const user = role[0]!.name;
  const lacks = [...missing].map(([relation, privileges]) => {
    const what = [...privileges].map(([p, columns]) =>
      columns.length > 0 ? `${p} (${columns.join(", ")})` : p,
    );
    return relation === table ? what.join(", ") : `${what.join(", ")} on ${relation}`;
  });
  // why DELETE: the reason is not obvious from the rows the run writes
  const why = missing.get(table)?.has("DELETE")
    ? " (it holds rows of earlier runs: a row a later answer of its id makes stale is deleted)"
    : "";
  const grants = [...missing].map(
    ([relation, privileges]) => `GRANT ${[...privileges.keys()].join(", ")} ON ${relation} TO ${user}`,
  );
  throw new BatchpipeError(
    "PLUGIN_FAILED",
    `${table}: the role ${user} may not write the sink's rows: it lacks ${lacks.join("; ")}${why}`,
    { hint: `${grants.join("; ")}, or name a table it may write.`, plugin: "sink:postgres" },
  );
}

// --- internal ---

/**
 * CREATE TABLE only when the table is missing: even with IF NOT EXISTS it needs CREATE on the
 * schema, which a role that may only write tables made for it lacks (PostgreSQL 15's default on
 * public). The DDL lock keeps another sink from creating it in between.
 */
async function createIfMissing(client: pg.Client, table: string, declarations: string): Promise<boolean> {
  if (await exists(client, table)) return false;
  await client.query(`CREATE TABLE ${table} (${declarations})`);
  return true;
}

async function exists(client: pg.Client, table: string): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [
    table,
  ]);
  return rows[0]!.found;
}

interface TableColumn {
  name: string;
  /** format_type, for messages (varchar(8)) */
  type: string;
  /**
   * what the INSERT casts the text to: the type without its modifier ("pg_catalog"."varchar"), so
   * that storing it checks the length (a cast to varchar(8) cut a longer value, an id too, silently)
   */
  cast: string;
  json: boolean;
  /** NOT NULL without a default: the sink must write it */
  required: boolean;
  /** the column alone is a unique key (primary key or unique index without a predicate) */
  unique: boolean;
  /** generated or an identity column: its value is the table's own, not a run's */
  own: boolean;
}

async function tableColumns(client: pg.Client, table: string): Promise<TableColumn[]> {
  const { rows } = await client.query<TableColumn>(
    `SELECT a.attname AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            format('%I.%I', tn.nspname, t.typname) AS cast,
            t.typname IN ('json', 'jsonb') AS json,
            a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' AS required,
            a.attidentity <> '' OR a.attgenerated <> '' AS own,
            EXISTS (SELECT 1 FROM pg_index i
                     WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indpred IS NULL
                       AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum) AS unique
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  return rows;
}

function checkTable(columns: readonly TableColumn[], table: string, written: readonly Column[]): void {
  const fail = (message: string, hint: string) =>
    new BatchpipeError("PLUGIN_FAILED", `${table}: ${message}`, { hint, plugin: "sink:postgres" });
  const id = columns.find((c) => c.name === "id");
  if (!id) throw fail("the existing table has no id column", "Add one, or name another table.");
  if (!id.unique)
    throw fail(
      "its id column is not a primary key or unique, so rows cannot be upserted by id",
      `ALTER TABLE ${table} ADD PRIMARY KEY (id), or name another table.`,
    );
  const known = new Set<string>(written.map((c) => c.name));
  const missing = columns.filter((c) => c.required && !known.has(c.name)).map((c) => c.name);
  if (missing.length > 0)
    throw fail(
      `the sink writes no value to its NOT NULL column(s) ${missing.join(", ")}`,
      "Give them a default or allow NULL, add them to the sink's columns, or name another table.",
    );
}

function upsertFor(columns: readonly TableColumn[], table: string, projected: readonly Column[]): Upsert {
  const byName = new Map(projected.map((c) => [c.name, c]));
  const written = columns.filter(
    (c) => byName.get(c.name) !== undefined && byName.get(c.name)!.kind !== "time",
  );
  const names: string[] = written.map((c) => `"${c.name}"`);
  // a JSON column takes the value itself (JSON null is SQL NULL); any other its text: a string
  // as it is, anything else as JSON text
  const values = written.map((c, i) =>
    c.json ? `NULLIF(e->${i}, 'null')::${c.type}` : `(e->>${i})::${c.cast}`,
  );
  // created_at is written once, by the first insert of an id
  const time = projected.find((c) => c.kind === "time");
  if (time && columns.some((c) => c.name === time.name)) {
    names.push(`"${time.name}"`);
    values.push("now()");
  }
  const updated = written.filter((c) => c.name !== "id").map((c) => c.name);
  const updates = updated.map((name) => `"${name}" = excluded."${name}"`);
  // $1 is parsed as json (a quick check) and each row's array as jsonb on its own: one jsonb parse
  // of the whole batch cost the server twice as much CPU. OFFSET 0 keeps the subquery from being
  // inlined, which would parse the row again for each column.
  const sql = `INSERT INTO ${table} (${names.join(", ")})
    SELECT ${values.join(", ")}
      FROM json_array_elements($1::json) AS j, LATERAL (SELECT j::jsonb AS e OFFSET 0) AS row
    ON CONFLICT (id) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(", ")}` : "NOTHING"}`;
  return {
    sql,
    getters: written.map((c) => byName.get(c.name)!.get),
    inserted: names.map((name) => name.slice(1, -1)),
    updated,
    casts: written.filter((c) => !c.json).map((c) => ({ name: c.name, type: c.type })),
    // the ids as the id column's type, so that its index is used (bigint = text has no operator)
    forget: `DELETE FROM ${table} WHERE id = ANY($1::text[]::${columns.find((c) => c.name === "id")!.cast}[])`,
    unwritten: columns
      .filter((c) => c.name !== "id" && !c.own && !names.includes(`"${c.name}"`))
      .map((c) => c.name),
  };
}
