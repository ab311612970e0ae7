// A run into sink-postgres through the real CLI (child process, emulator in its own process), killed
// with SIGKILL at 3 moments during delivery and resumed: every id ends up exactly once in the table,
// and the database password is in nothing batchpipe wrote or printed.
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type ChildRun,
  checkExactlyOnce,
  type EmulatorProcess,
  filesContaining,
  readJsonl,
  report,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { POSTGRES_PASSWORD, sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const N = 1200;
/** small parts (engine tuning): a shard's delivery is many transactions, so kills land between and inside them */
const ENGINE = { deliveryPartSize: 40 };

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([
    sharedPostgres(),
    startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 2000, validation: 0.05 } }),
  ]);
});
afterAll(async () => {
  await emulator?.close();
});

/**
 * Each run is killed once the table holds `rows` more rows than when the run started (a delivery
 * part committed), `delayMs` later; or, with `inTransaction`, once the sink's transaction holds
 * written, uncommitted rows (its backend has a transaction id in pg_stat_activity) after the first
 * part. Watched by polling the database, so the moments do not depend on how fast delivery is.
 */
const MOMENTS = [
  { rows: 1, delayMs: 0, inTransaction: true },
  { rows: 40, delayMs: 0 },
  { rows: 120, delayMs: 7 },
];

describe("sink-postgres: SIGKILL during delivery, then resume (real CLI, real PostgreSQL)", () => {
  it("kills at 3 moments during delivery: every id exactly once in the table, the password nowhere", async () => {
    const database = `crash_${process.pid}`;
    const url = await server.createDatabase(database);
    const dir = tempDir("bp-sink-pg-crash-");
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-crash",
      maxTokens: 20,
      batch: { max_requests: 300 },
      // a jsonl sink beside it: it has no key, so a redelivered row would show twice there
      sinks: [
        `- { use: postgres, ${URL_REF}, table: results }`,
        "- { use: jsonl, path: ./out/results.jsonl }",
      ],
    });
    const env = { DATABASE_URL: url };
    const ids = async () =>
      (await server.query("SELECT id FROM results", [], database)).map((r: { id: string }) => r.id);

    const runs: ChildRun[] = [];
    const countsAfterKills: number[] = [];
    const watcher = new pg.Client({ connectionString: url });
    // a failed expectation leaves it open until the server stops: that is no error of the run
    watcher.on("error", () => undefined);
    await watcher.connect();
    let caughtInTransaction = false;
    const count = async () => {
      try {
        const { rows } = await watcher.query("SELECT count(*)::int AS n FROM results");
        return rows[0].n as number;
      } catch {
        return 0; // the first run has not created the table yet
      }
    };
    const inTransaction = async () =>
      (
        await watcher.query(
          `SELECT 1 FROM pg_stat_activity
            WHERE datname = $1 AND application_name = 'batchpipe' AND backend_xid IS NOT NULL`,
          [database],
        )
      ).rows.length > 0;
    /** SIGKILL `child` at the moment (see MOMENTS) */
    const killAt = async (child: ChildProcess, moment: (typeof MOMENTS)[number], start: number) => {
      const deadline = Date.now() + 60_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
        if ((await count()) < start + moment.rows) continue;
        if (moment.inTransaction && !(await inTransaction())) continue;
        if (moment.inTransaction) caughtInTransaction = true;
        signalOnce(child, "SIGKILL", moment.delayMs);
        return;
      }
    };
    for (const moment of MOMENTS) {
      const start = await count();
      const run = await batchpipe(["run", spec, "--json"], {
        cwd: dir,
        env,
        engine: ENGINE,
        onEvent: (event, child) => {
          if (event.type === "run_started") void killAt(child, moment, start);
        },
      });
      runs.push(run);
      expect(run.signal, `${JSON.stringify(moment)}: ${run.stderr}`).toBe("SIGKILL");
      countsAfterKills.push((await ids()).length);
    }
    await watcher.end();
    // each kill landed during delivery: some rows were in, not all; one inside the sink's transaction
    expect(
      countsAfterKills.every((count) => count > 0 && count < N),
      String(countsAfterKills),
    ).toBe(true);
    expect(caughtInTransaction).toBe(true);

    const last = await batchpipe(["run", spec, "--json"], { cwd: dir, env, engine: ENGINE });
    runs.push(last);
    expect(last.code, last.stderr).toBe(0);
    expect(report(last)).toMatchObject({ succeeded: N, failed: 0, unaccounted: 0 });

    const expected = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    const none = { missing: [], duplicated: [], extra: [] };
    expect(checkExactlyOnce(await ids(), expected)).toEqual(none);
    const jsonl = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(checkExactlyOnce(jsonl, expected)).toEqual(none);
    const [row]: { status: string; output: unknown; source_line: string }[] = await server.query(
      "SELECT status, output, source_line FROM results WHERE id = 'rec-7'",
      [],
      database,
    );
    // the default columns: provenance is kept for failures only
    expect(row).toMatchObject({ status: "success", source_line: null });
    expect(typeof row!.output).toBe("string");

    for (const run of runs) expect(`${run.stdout}${run.stderr}`).not.toContain(POSTGRES_PASSWORD);
    expect(filesContaining(dir, POSTGRES_PASSWORD)).toEqual([]);
    console.log(
      `sink-postgres crash test: rows after each kill ${countsAfterKills.join(", ")}; ${runs.length} runs`,
    );
  }, 240_000);

  it("a wrong password fails the run (exit 1) with PLUGIN_FAILED and no trace of the password", async () => {
    const url = await server.createDatabase(`wrong_${process.pid}`);
    const wrong = url.replace(POSTGRES_PASSWORD, "not-the-Password-93k");
    const dir = tempDir("bp-sink-pg-auth-");
    writeDataset(dir, 5);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-auth",
      sinks: [`- { use: postgres, ${URL_REF} }`],
    });
    const run = await batchpipe(["run", spec, "--json", "--debug"], {
      cwd: dir,
      env: { DATABASE_URL: wrong },
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/PLUGIN_FAILED/);
    expect(run.stderr).toMatch(/password authentication failed/);
    expect(run.stderr).toContain(`postgres://postgres@127.0.0.1:${server.port}/wrong_${process.pid}`);
    for (const secret of ["not-the-Password-93k", POSTGRES_PASSWORD]) {
      expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
      expect(filesContaining(dir, secret)).toEqual([]);
    }
  }, 120_000);
});
