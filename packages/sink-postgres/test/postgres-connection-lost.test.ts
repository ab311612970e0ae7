// sink-postgres when the server ends or cancels the sink's work: its session terminated during a
// run's delivery (pg_terminate_backend, as an admin or a restart does), the role's
// idle_in_transaction_session_timeout or statement_timeout. Each fails with PLUGIN_FAILED saying
// what the server said (not pg's "not queryable") and a hint of what to do; a run again delivers
// every id exactly once.
import type { ChildProcess } from "node:child_process";
import { createTestContext } from "@batchpipe/core/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  type EmulatorProcess,
  report,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import sink from "../src/index.js";
import { POSTGRES_PASSWORD, sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const N = 600;

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

function success(id: string) {
  return {
    id,
    status: "success" as const,
    output: `answer ${id}`,
    response: {},
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
    model: "gpt-4o-mini",
    batch_id: "batch_1",
    attempts: 1,
    input: { id },
    source: { file: "/data/in.jsonl", line: 1 },
  };
}

/** a role whose sessions have `setting`, and a database it owns */
async function roleWith(name: string, setting: string): Promise<string> {
  await server.query(`CREATE ROLE ${name} LOGIN PASSWORD '${POSTGRES_PASSWORD}'`);
  await server.query(`ALTER ROLE ${name} SET ${setting}`);
  await server.createDatabase(name);
  await server.query(`ALTER DATABASE ${name} OWNER TO ${name}`);
  return `postgres://${name}:${POSTGRES_PASSWORD}@127.0.0.1:${server.port}/${name}`;
}

describe("sink-postgres: the server ends or cancels the sink's work", () => {
  it("its session terminated during delivery: PLUGIN_FAILED with the server's reason; run again: every id once", async () => {
    const database = `lost_${process.pid}`;
    const url = await server.createDatabase(database);
    const dir = tempDir("bp-pg-lost-");
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-lost",
      batch: { max_requests: 200 },
      sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
    });
    const env = { DATABASE_URL: url };
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    let terminated = 0;
    // The session must be ended while its transaction holds written rows: ended between two
    // deliveries it held nothing, and the sink rightly reconnects. Polling pg_stat_activity for an
    // open transaction raced its COMMIT, so the sink's COMMIT is held instead: a deferred trigger
    // waits for an advisory lock the test holds, and the session is ended while it waits.
    const terminate = async (child: ChildProcess) => {
      const running = () => child.exitCode === null && child.signalCode === null;
      // the sink creates its table when it opens, before any batch has ended
      while (running()) {
        const { rows } = await admin.query("SELECT to_regclass('public.results') IS NOT NULL AS found");
        if (rows[0].found) break;
      }
      await admin.query("SELECT pg_advisory_lock(4242)");
      await admin.query(`CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS
        'BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END'`);
      await admin.query(`CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT OR UPDATE ON results
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()`);
      while (terminated === 0 && running()) {
        const { rows: ended } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
            WHERE datname = $1 AND application_name = 'batchpipe' AND wait_event = 'advisory'`,
          [database],
        );
        terminated = ended.filter((r) => r.done).length;
      }
      await admin.query("SELECT pg_advisory_unlock(4242)");
      await admin.query("DROP TRIGGER hold_commit ON results");
    };
    let terminating: Promise<void> | undefined;
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      env,
      engine: { deliveryPartSize: 40 },
      onEvent: (event, child) => {
        if (event.type === "run_started") terminating = terminate(child);
      },
    });
    await terminating;
    await admin.end();
    expect(terminated).toBe(1);
    expect(first.code, first.stderr).toBe(1);
    const error = first.events.find((e) => e.type === "error")!;
    expect(error.code).toBe("PLUGIN_FAILED");
    expect(error.message).toMatch(
      /"public"\."results": commit failed: terminating connection due to administrator command \(57P01\)$/,
    );
    expect(error.hint).toMatchInlineSnapshot(
      `"The connection to the server was lost (a restart, or its session was ended): run again once it accepts connections: the run resumes from its last commit."`,
    );

    const again = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    expect(again.code, again.stderr).toBe(0);
    expect(report(again)).toMatchObject({ succeeded: N, failed: 0, unaccounted: 0 });
    const ids = (await server.query("SELECT id FROM results", [], database)).map((r: { id: string }) => r.id);
    const expected = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
  }, 180_000);

  it("idle_in_transaction_session_timeout ends the session between a write and its commit: the hint names it", async () => {
    const url = await roleWith("idle_tx", "idle_in_transaction_session_timeout = '100ms'");
    const handle = await sink.open({
      ...createTestContext("/tmp", sink.options.parse({ url })),
      checkpoint: undefined,
    });
    await handle.write([success("a"), success("b")]);
    // the engine reads the next results meanwhile; the server ends the idle transaction
    await new Promise((resolve) => setTimeout(resolve, 600));
    const error = await handle.commit("k1").then(
      () => undefined,
      (e: unknown) => e,
    );
    await handle.close();
    expect(error).toMatchObject({ code: "PLUGIN_FAILED" });
    expect((error as Error).message).toMatch(
      /commit failed: terminating connection due to idle-in-transaction timeout \(25P03\)$/,
    );
    expect((error as { hint: string }).hint).toMatchInlineSnapshot(
      `"The server ended the sink's session: the sink keeps one transaction open from a delivery's first write to its commit, longer than the role's idle_in_transaction_session_timeout. Raise it, or for the sink's session only, in its url: ?options=-c%20idle_in_transaction_session_timeout%3D0; then run again: the run resumes from its last commit."`,
    );
  }, 60_000);

  it("statement_timeout cancels the sink's statements: the hint names it", async () => {
    const url = await roleWith("hasty", "statement_timeout = '1ms'");
    const error = await sink
      .open({ ...createTestContext("/tmp", sink.options.parse({ url })), checkpoint: undefined })
      .then(
        (handle) => handle.close(),
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: "PLUGIN_FAILED" });
    expect((error as Error).message).toMatch(/canceling statement due to statement timeout \(57014\)$/);
    expect((error as { hint: string }).hint).toMatchInlineSnapshot(
      `"The server cancelled a statement of the sink (up to 2,000 rows at a time): the role's statement_timeout is too short for it. Raise it (ALTER ROLE … SET statement_timeout = '5min'), or for the sink's session only, in its url: ?options=-c%20statement_timeout%3D0; then run again: the run resumes from its last commit."`,
    );
  }, 60_000);
});
