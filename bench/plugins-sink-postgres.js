// Benchmark: sink-postgres writing SuccessRow-shaped rows into a local PostgreSQL server, one commit
// per 50,000-row shard, 500 rows a write (as the engine hands them over). Times only the sink's
// write + commit (the same rows as bench/plugins-sinks.js). Target: >= 50,000 rows/s.
// Usage: pnpm build && node bench/plugins-sink-postgres.js [rows] [full|lean]
// Without DATABASE_URL it starts its own server (Debian's postgresql, as the tests do) with the
// server's default durability (fsync on, synchronous_commit on); with DATABASE_URL it writes to
// that database (table bench_results, dropped first).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { startPostgres } from "../packages/sink-postgres/test/support/postgres-server.mjs";
import { buildRows, makeLines } from "./lib/sink-rows.js";

const total = Number(process.argv[2] ?? 500_000);
const shape = process.argv[3] ?? "full";
const SHARD = 50_000;
const WRITE_BATCH = 500;
const TABLE = "bench_results";
const TARGET = 50_000;
/** USER_HZ: /proc's CPU times are in these ticks (100 on Linux) */
const CLOCK_TICKS = 100;

const { default: sink } = await import("../packages/sink-postgres/dist/index.js");
// pg is the sink package's dependency, not the workspace root's
const pg = createRequire(new URL("../packages/sink-postgres/package.json", import.meta.url))("pg");

const server = process.env.DATABASE_URL ? undefined : await startPostgres({ settings: { fsync: "on" } });
const url = process.env.DATABASE_URL ?? (await server.createDatabase("bench"));
try {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
  const { rows: settings } = await client.query(
    "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync, current_setting('shared_buffers') AS buffers",
  );
  console.log(
    `rows: ${shape}; PostgreSQL ${settings[0].version} (fsync ${settings[0].fsync}, synchronous_commit ${settings[0].sync}, shared_buffers ${settings[0].buffers}) on loopback`,
  );
  console.log(await run(client));
  await client.end();
} finally {
  await server?.stop();
}
console.log(
  `load average ${os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")} on ${os.availableParallelism()} cores`,
);

async function run(client) {
  const options = sink.options.parse({ url, table: TABLE });
  const handle = await sink.open({
    options,
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    checkpoint: undefined,
  });
  // the sink's server process, to count its CPU too (a local server: its /proc entry)
  const { rows: backends } = await client.query(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'batchpipe' AND datname = current_database()",
  );
  const backendCpuStart = processCpuMs(backends[0]?.pid);
  let sinkMs = 0;
  let cpuMs = 0;
  let commitMs = 0;
  const wallStart = performance.now();
  const timed = async (call) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await call();
    const used = process.cpuUsage(cpu);
    cpuMs += (used.user + used.system) / 1000;
    const ms = performance.now() - started;
    sinkMs += ms;
    return ms;
  };
  for (let shard = 0; shard * SHARD < total; shard++) {
    const count = Math.min(SHARD, total - shard * SHARD);
    for (let from = 0; from < count; from += WRITE_BATCH) {
      const lines = makeLines({
        shard,
        from,
        count: Math.min(WRITE_BATCH, count - from),
        shardSize: SHARD,
        shape,
      });
      const rows = buildRows(shard, lines);
      await timed(() => handle.write(rows));
    }
    commitMs += await timed(() => handle.commit(`shard-${shard}`));
  }
  const backendCpuMs = processCpuMs(backends[0]?.pid) - backendCpuStart;
  await handle.close();
  const wallMs = performance.now() - wallStart;
  const { rows } = await client.query(
    `SELECT count(*)::int AS n, pg_total_relation_size('${TABLE}') AS bytes FROM ${TABLE}`,
  );
  if (rows[0].n !== total) throw new Error(`expected ${total} rows in ${TABLE}, found ${rows[0].n}`);
  const rate = Math.round(total / (sinkMs / 1000));
  // with a core each on an idle machine: the client and the backend one after the other, or
  // overlapping (a write returns once its rows are sent), then the busier of the two sets the pace
  const cpuRate = Math.round(total / ((cpuMs + backendCpuMs) / 1000));
  const overlapRate = Math.round(total / (Math.max(cpuMs, backendCpuMs) / 1000));
  return [
    `sink-postgres: ${total.toLocaleString("en-US")} rows, commit every ${SHARD.toLocaleString("en-US")}, ${WRITE_BATCH} rows a write, table ${(Number(rows[0].bytes) / 1e6).toFixed(0)} MB`,
    `  sink time   ${(sinkMs / 1000).toFixed(2)} s (commits ${(commitMs / 1000).toFixed(2)} s), client CPU ${(cpuMs / 1000).toFixed(2)} s (wall incl. building rows ${(wallMs / 1000).toFixed(2)} s)`,
    `  server CPU  ${Number.isNaN(backendCpuMs) ? "unknown (not a local server)" : `${(backendCpuMs / 1000).toFixed(2)} s (the sink's backend process)`}`,
    `  rows/s      ${rate.toLocaleString("en-US")} (target >= ${TARGET.toLocaleString("en-US")}) ${rate >= TARGET ? "OK" : "MISSED"}; ${Math.round(total / (wallMs / 1000)).toLocaleString("en-US")} over the wall time incl. building rows (a write returns once its rows are sent: the server inserts while the next rows are built)`,
    `  rows/CPU-s  ${Number.isNaN(cpuRate) ? "unknown" : `${cpuRate.toLocaleString("en-US")} of client + backend CPU; ${overlapRate.toLocaleString("en-US")} of the busier one's (what a core each on an idle machine allows, without and with the overlap)`}`,
    `  peak RSS    ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (this process; the server's is its own)`,
  ].join("\n");
}

/** user + system CPU of a local process in ms (NaN when it cannot be read) */
function processCpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime are fields 14 and 15 of stat; [1] starts at field 3
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
