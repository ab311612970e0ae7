// sink-postgres given a connection URL whose password holds @ / ? # as it is (not percent-encoded),
// through the real CLI: pg would read part of the password as the host or database, and the
// messages naming the server showed that part (in the error, the --json event and the state
// folder). It is refused before anything connects, quoting nothing of it; the encoded URL runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  filesContaining,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

const PASSWORD = "p@ss/w0rd-Kx7";
/** what pg read as the host and database: the password's tail */
const TAIL = "w0rd-Kx7";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([sharedPostgres(), startEmulatorProcess()]);
  await server.query(`CREATE ROLE writer LOGIN PASSWORD '${PASSWORD}'`);
  await server.createDatabase("writer");
  await server.query("ALTER DATABASE writer OWNER TO writer");
});
afterAll(async () => {
  await emulator?.close();
});

async function run(url: string) {
  const dir = tempDir("bp-pg-url-");
  writeDataset(dir, 5);
  const spec = writePipeline(dir, {
    baseUrl: emulator.url,
    name: "pg-url",
    sinks: [`- { use: postgres, ${URL_REF} }`],
  });
  const result = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url } });
  return { dir, result };
}

describe("sink-postgres: a url whose password is not percent-encoded", () => {
  it("is refused before anything connects, and no part of the password is shown or stored", async () => {
    const { dir, result } = await run(`postgres://writer:${PASSWORD}@127.0.0.1:${server.port}/writer`);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      "sinks[0].url: its user name or password holds @ / ? or # as it is, so part of it would be read as the server",
    );
    expect(result.stderr).toContain("percent-encoded (%40 %3A %2F %3F %23)");
    expect(`${result.stdout}${result.stderr}`).not.toContain(TAIL);
    expect(filesContaining(dir, TAIL)).toEqual([]);

    const encoded = `postgres://writer:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}/writer`;
    const again = await run(encoded);
    expect(again.result.code, again.result.stderr).toBe(0);
  }, 120_000);

  it("a url pg cannot parse fails at open with what to do, quoting nothing of it", async () => {
    const { dir, result } = await run(
      `postgres://writer:${encodeURIComponent(PASSWORD)}@127.0.0.1:port/writer`,
    );
    expect(result.code, result.stderr).toBe(1);
    const error = result.events.find((e) => e.type === "error")!;
    expect([error.code, error.message, error.hint]).toMatchInlineSnapshot(`
      [
        "PLUGIN_FAILED",
        "the sink's url is not a connection URL pg can read (Invalid URL (ERR_INVALID_URL))",
        "Write it as postgres://user:password@host:5432/database with @ : / ? # in the user name or password percent-encoded (%40 %3A %2F %3F %23).",
      ]
    `);
    expect(filesContaining(dir, "p%40ss")).toEqual([]);
  }, 120_000);
});
