// sink-postgres whose connection the server ends while it waits between deliveries (no transaction
// open): a run waits hours on its batches, past a role's idle_session_timeout, a proxy's idle cut
// or a server restart. Nothing uncommitted was lost, so the sink connects again and the run goes
// on, through the real CLI: before, the next delivery failed the run ('terminating connection due
// to idle-session timeout (57P05)').
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
import { POSTGRES_PASSWORD, sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const N = 300;

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([
    sharedPostgres(),
    // a batch takes ~1 s: longer than the role's idle_session_timeout
    startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 200, validation: 0.2 } }),
  ]);
});
afterAll(async () => {
  await emulator?.close();
});

describe("sink-postgres: its idle connection ended between deliveries", () => {
  it("connects again and delivers every id once", async () => {
    await server.query(`CREATE ROLE idler LOGIN PASSWORD '${POSTGRES_PASSWORD}'`);
    await server.query("ALTER ROLE idler SET idle_session_timeout = '300ms'");
    await server.createDatabase("idler");
    await server.query("ALTER DATABASE idler OWNER TO idler");
    const url = `postgres://idler:${POSTGRES_PASSWORD}@127.0.0.1:${server.port}/idler`;
    const dir = tempDir("bp-pg-idle-");
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "pg-idle",
      batch: { max_requests: 100 },
      sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url } });
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: N, failed: 0, unaccounted: 0 });
    const ids = (await server.query("SELECT id FROM results", [], "idler")).map((r: { id: string }) => r.id);
    const expected = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
  }, 120_000);
});
