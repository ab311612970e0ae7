/**
 * The `postgres` sink: one row per id in a PostgreSQL table (upsert), made durable by `commit(key)`.
 *
 * Exactly-once: a delivery's rows are upserted in batches inside a transaction that opens at the
 * first write and ends at `commit(key)`, which records `key` in `_batchpipe_commits` in that same
 * transaction; the checkpoint is that record's `seq`. A crash (kill -9, a lost connection) leaves
 * the transaction uncommitted and the server rolls it back. `open` with a checkpoint forgets this
 * table's commit records after it (so `committed(key)` is false for them and the engine delivers
 * them again; their rows stay and the upsert by id overwrites them); a fresh sink forgets them all
 * and keeps the rows. Each sink has its own connection, so its own transaction.
 *
 * The connection URL holds a password: it is never logged, and every message the sink produces has
 * it redacted.
 */
import {
  BatchpipeError,
  type Checkpoint,
  columnsOption,
  compileColumns,
  defineSink,
  isDefaultColumns,
  type ResultRow,
  unwrittenColumnsWarning,
  z,
} from "@batchpipe/core/plugin";
import type pg from "pg";
import { batchJson, longColumnNames } from "./columns.js";
import {
  connectionFailed,
  describeUrl,
  invalidUrl,
  queryFailed,
  type Redact,
  redactor,
  unencodedProblem,
  unencodedUserinfo,
  unreadableFile,
} from "./errors.js";
import { isNoTls, libpqUrl, sslmodeOf, sslProblems, tlsHint } from "./ssl.js";
import { COMMITS, checkPrivileges, prepareTable, qualified } from "./table.js";
import { targetOf } from "./target.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IDENTIFIER_MESSAGE = "must be a plain SQL identifier (letters, digits, _; not starting with a digit)";
/** rows per INSERT … SELECT FROM json_array_elements($1): one parameter whatever the count */
const ROWS_PER_STATEMENT = 2000;
/** idle time before the first TCP keepalive probe: under the idle cuts of NATs and load balancers (~4-5 min) */
const KEEPALIVE_DELAY_MS = 60_000;

export const options = z.strictObject({
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// connection URL")
    .meta({
      description:
        "The connection URL (libpq style: user, password, host, port, database, ?sslmode=…). Write it as an environment reference so the password stays out of the spec; it is never stored or logged.",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      examples: ["${DATABASE_URL}"],
    }),
  table: z.string().regex(IDENTIFIER, IDENTIFIER_MESSAGE).default("results").meta({
    description: "The table the rows go to; created if missing, or an existing one with an id key.",
  }),
  schema: z
    .string()
    .regex(IDENTIFIER, IDENTIFIER_MESSAGE)
    .default("public")
    .meta({ description: "The schema of the table and of the commit records; it must exist." }),
  columns: columnsOption.optional(),
});

export type PostgresSinkOptions = z.output<typeof options>;

export default defineSink({
  name: "postgres",
  options,
  // the table it writes, so that validate refuses a second sink (or an errors entry) on it: their
  // upserts of one id would overwrite each other's rows, or wait on each other's transactions
  check: ({ options, env }) => ({
    targets: unencodedUserinfo(options.url) ? [] : targetOf(options, env),
    // its own bookkeeping table: refused before anything connects (it failed at open, obscurely)
    problems: [
      ...(options.table === COMMITS
        ? [
            {
              option: "table",
              message: `"${options.table}" is the sink's own bookkeeping table`,
              hint: "name the table after what it holds, e.g. table: results",
            },
          ]
        : []),
      ...longColumnNames(options.columns),
      // refused before anything is named after it: the server's name would show part of the password
      ...(unencodedUserinfo(options.url) ? [unencodedProblem] : sslProblems(options.url, env)),
    ],
  }),
  async open({ options, checkpoint, logger }) {
    const redact = redactor(options.url);
    const where = qualified(options.schema, options.table);
    const warn = (message: string) => logger.warn(`postgres sink ${where}: columns: ${message}`);
    const target = {
      schema: options.schema,
      table: options.table,
      columns: compileColumns(options.columns, { warn }),
      isDefault: isDefaultColumns(options.columns),
    };
    const label = `${describeUrl(options.url)} ${qualified(options.schema, options.table)}`;
    // loaded when a run opens the sink: the CLI that bundles this sink should not pay for pg's
    // load (~0.3 s here) on every command
    const { default: postgres } = await import("pg");
    /** a connection through `url` (the URL as pg is given it); pg's error when it fails */
    const connectTo = async (url: string): Promise<Connection> => {
      let client: pg.Client;
      try {
        client = new postgres.Client({
          connectionString: url,
          application_name: "batchpipe",
          connectionTimeoutMillis: 30_000,
          // a run waits hours on its batches with this connection idle: a dead peer or a NAT's
          // cut is noticed by the probes then, not at the next write
          keepAlive: true,
          keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
        });
      } catch (error) {
        // pg reads the files the URL names here (sslrootcert …)
        if (typeof (error as { path?: unknown }).path === "string") throw unreadableFile(error, redact);
        // pg parses the URL here (a port that is no number, a # in a password)
        throw invalidUrl(error);
      }
      const connection: Connection = { client, lost: undefined };
      // a connection lost between calls is reported by the next call, which pg fails with "not
      // queryable": the lost connection's error says why (without a listener it would be uncaught)
      client.on("error", (error) => {
        connection.lost ??= error;
      });
      try {
        await client.connect();
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
      return connection;
    };
    const connect = async (): Promise<Connection> => {
      // pg reads PG* variables from the process's environment when it connects; so does this
      const sslmode = sslmodeOf(options.url, process.env);
      try {
        try {
          return await connectTo(libpqUrl(options.url, sslmode));
        } catch (error) {
          // libpq's prefer: a server without TLS gets a plain connection (pg has no such fallback)
          if (sslmode === "prefer" && isNoTls(error))
            return await connectTo(libpqUrl(options.url, "disable"));
          throw error;
        }
      } catch (error) {
        if (error instanceof BatchpipeError) throw error;
        throw connectionFailed(label, error, redact, tlsHint(error, sslmode));
      }
    };
    const connection = await connect();
    const { client } = connection;
    try {
      await client.query("BEGIN");
      const upsert = await prepareTable(client, target);
      await restore(client, options.schema, options.table, checkpoint, label);
      // rows this run did not write, which forget() may have to drop (an empty table has none:
      // forget() is never given an id this run wrote a row for)
      const { rows: held } = await client.query(`SELECT 1 FROM ${where} LIMIT 1`);
      await checkPrivileges(client, {
        schema: options.schema,
        table: options.table,
        upsert,
        deletes: held.length > 0,
      });
      await client.query("COMMIT");
      // the upsert writes only its columns: the table's others keep an earlier run's values in the
      // rows this run writes again (a tokens column beside a new output)
      if (held.length > 0 && upsert.unwritten.length > 0)
        warn(unwrittenColumnsWarning(upsert.unwritten, where));
      if (upsert.twin)
        logger.warn(
          `postgres sink: created the table ${where} beside ${upsert.twin}: the sink quotes table: ${options.table}, so its case counts (an unquoted CREATE TABLE ${options.table} made ${options.table.toLowerCase()}). To write that one, set table: ${options.table.toLowerCase()}`,
        );
      return openHandle({
        connection,
        connect,
        upsert,
        schema: options.schema,
        table: options.table,
        label,
        redact,
        holdsRows: held.length > 0,
      });
    } catch (error) {
      await client.end().catch(() => {});
      throw queryFailed(label, "open", error, redact);
    }
  },
});

// --- internal ---

/** a connection, and why it was lost if it was */
interface Connection {
  client: pg.Client;
  lost: unknown;
}

function openHandle(o: {
  connection: Connection;
  connect: () => Promise<Connection>;
  upsert: Awaited<ReturnType<typeof prepareTable>>;
  schema: string;
  table: string;
  label: string;
  redact: Redact;
  holdsRows: boolean;
}) {
  const { upsert, label, redact } = o;
  let { connection } = o;
  const commits = qualified(o.schema, COMMITS);
  let inTransaction = false;
  /** why calls fail from now on: a statement failed inside the delivery's transaction */
  let failed: BatchpipeError | undefined;
  let closed = false;

  /**
   * The last upsert, still running: write() returns once it is sent, so the server inserts while
   * the engine prepares the next rows. Every later call waits for it first (it never rejects: a
   * failure lands in `failed`), so COMMIT is never sent after a failed write.
   */
  let pending: Promise<void> | undefined;
  const settle = async () => {
    await pending;
    pending = undefined;
    if (failed) throw failed;
  };

  const query = async <R extends pg.QueryResultRow>(
    hook: string,
    sql: string | pg.QueryConfig,
    params?: unknown[],
  ) => {
    await settle();
    // lost with no transaction open, it held nothing uncommitted: a new one goes on. A run waits
    // hours on its batches, past an idle_session_timeout, a proxy's idle cut or a server restart.
    if (!inTransaction && connection.lost !== undefined) {
      await connection.client.end().catch(() => {});
      connection = await o.connect();
    }
    try {
      return await connection.client.query<R>(sql, params);
    } catch (error) {
      // the transaction is aborted: nothing of this delivery may be committed now
      failed = queryFailed(label, hook, connection.lost ?? error, redact);
      throw failed;
    }
  };
  const begin = async (hook: string) => {
    if (inTransaction) return;
    await query(hook, "BEGIN");
    inTransaction = true;
  };

  return {
    async write(rows: readonly ResultRow[]): Promise<void> {
      if (rows.length === 0) return;
      await begin("write");
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        const chunk = lastOfEachId(rows.slice(i, i + ROWS_PER_STATEMENT));
        // named: the server parses and plans it once per connection
        const statement = {
          name: "batchpipe_upsert",
          text: upsert.sql,
          values: [batchJson(chunk, upsert.getters)],
        };
        await settle();
        pending = connection.client.query(statement).then(
          () => {},
          (error: unknown) => {
            // the transaction is aborted: nothing of this delivery may be committed now
            failed = queryFailed(label, "write", connection.lost ?? error, redact, upsert.casts);
          },
        );
      }
    },
    /** rows of earlier runs made stale: a failed request's success, or (an errors table) a success's failure */
    async forget(ids: readonly string[]): Promise<void> {
      if (ids.length === 0 || !o.holdsRows) return;
      await begin("forget");
      await query("forget", upsert.forget, [ids]);
    },
    async commit(key: string): Promise<Checkpoint> {
      await begin("commit");
      // a key committed again (two sinks on one table) takes a new seq, like a new record
      const { rows } = await query<{ seq: string }>(
        "commit",
        `INSERT INTO ${commits} (table_name, key) VALUES ($1, $2)
         ON CONFLICT (table_name, key) DO UPDATE SET seq = DEFAULT, committed_at = now()
         RETURNING seq`,
        [o.table, key],
      );
      await query("commit", "COMMIT");
      inTransaction = false;
      return Number(rows[0]!.seq);
    },
    async committed(key: string): Promise<boolean> {
      const { rows } = await query(
        "committed",
        `SELECT 1 FROM ${commits} WHERE table_name = $1 AND key = $2`,
        [o.table, key],
      );
      return rows.length > 0;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pending;
      // ending the session rolls back what was not committed
      await connection.client.end().catch(() => {});
    },
  };
}

/**
 * Forget this table's commit records after `checkpoint` (all of them for a fresh sink). A
 * checkpoint beyond the last seq ever given out means the database is not the one the run wrote to.
 */
async function restore(
  client: pg.Client,
  schema: string,
  table: string,
  checkpoint: Checkpoint | undefined,
  label: string,
): Promise<void> {
  const commits = qualified(schema, COMMITS);
  const restoreTo = checkpoint === undefined ? 0 : parseCheckpoint(checkpoint, label);
  const { rows } = await client.query<{ last: string | null }>(
    "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'seq')::regclass) AS last",
    [commits],
  );
  const last = Number(rows[0]?.last ?? 0);
  if (last < restoreTo) {
    throw new BatchpipeError(
      "PLUGIN_FAILED",
      `${label} has no commit ${restoreTo} (its last is ${last}): the database was replaced or restored`,
      { hint: "Point url at the database the run wrote to, or start a new run.", plugin: "sink:postgres" },
    );
  }
  await client.query(`DELETE FROM ${commits} WHERE table_name = $1 AND seq > $2`, [table, restoreTo]);
}

function parseCheckpoint(checkpoint: Checkpoint, label: string): number {
  if (typeof checkpoint !== "number" || !Number.isSafeInteger(checkpoint) || checkpoint < 0) {
    throw new BatchpipeError(
      "PLUGIN_FAILED",
      `invalid checkpoint ${JSON.stringify(checkpoint)} for ${label}`,
      {
        hint: "A postgres sink checkpoint is a commit sequence number; the run state may be corrupt.",
        plugin: "sink:postgres",
      },
    );
  }
  return checkpoint;
}

/** one statement may not touch an id twice (ON CONFLICT): the last row of an id wins */
function lastOfEachId(rows: readonly ResultRow[]): readonly ResultRow[] {
  const ids = new Set<string>();
  for (const row of rows) ids.add(row.id);
  if (ids.size === rows.length) return rows;
  const last = new Map<string, ResultRow>();
  for (const row of rows) last.set(row.id, row);
  return [...last.values()];
}
