import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  type EmulatorProcess,
  readJsonl,
  SENTIMENT,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

/** results and errors in one SQLite file (two tables), plus jsonl copies of both */
function writeSharedSpec(dir: string, baseUrl: string): string {
  return writePipeline(dir, {
    ...SENTIMENT,
    name: "shared",
    baseUrl,
    batch: { max_requests: 100 },
    sqlite: false,
    sinks: [
      "- { use: sqlite, path: ./out/all.db, table: results, columns: all }",
      "- { use: jsonl, path: ./out/results.jsonl, fields: all }",
    ],
    errors: [
      "- { use: sqlite, path: ./out/all.db, table: errors }",
      "- { use: jsonl, path: ./out/errors.jsonl }",
    ],
  });
}

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

interface TableRow {
  id: string;
  status: string;
  output: string | null;
  response: string | null;
  usage: string | null;
  input: string;
  error: string | null;
  source_line: number;
}

const N = 400;
/** rec-7, rec-17, …: failed for good (context_length_exceeded is not retried) */
const failing = (id: string) => id.endsWith("7");

describe("two sqlite sinks on one database file (results and errors tables)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 400, validation: 0.02 },
      lineRules: [{ customIdPattern: "^rec-\\d*7$", error: "context_length_exceeded" }],
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("a run SIGKILLed after its second collected shard, then run again: every id once in its table, rows equal to the jsonl copies", async () => {
    const dir = tempDir("bp-shared-");
    writeDataset(dir, N);
    const spec = writeSharedSpec(dir, emulator.url);
    const engine = { deliveryPartSize: 30 };
    // SIGKILL after the second delivered shard: both tables have rows and commit records by then
    let collected = 0;
    const killed = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine,
      onEvent: (event, child) => {
        if (event.type === "shard_collected" && ++collected === 2) signalOnce(child, "SIGKILL", 5);
      },
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const resumed = await batchpipe(["run", spec], { cwd: dir, engine });
    // exit 3: finished with some failed requests
    expect(resumed.code, resumed.stderr).toBe(3);

    const all = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
    const db = path.join(dir, "out/all.db");
    const results = query<TableRow>(db, "SELECT * FROM results");
    const errors = query<TableRow>(db, "SELECT * FROM errors");
    const expectedOk = all.filter((id) => !failing(id));
    const expectedFailed = all.filter(failing);
    const none = { missing: [], duplicated: [], extra: [] };
    expect(
      checkExactlyOnce(
        results.map((r) => r.id),
        expectedOk,
      ),
    ).toEqual(none);
    expect(
      checkExactlyOnce(
        errors.map((r) => r.id),
        expectedFailed,
      ),
    ).toEqual(none);
    // both tables recorded their deliveries in the shared _batchpipe_commits
    const commits = query<{ table_name: string; n: number }>(
      db,
      "SELECT table_name, count(*) AS n FROM _batchpipe_commits GROUP BY table_name ORDER BY table_name",
    );
    expect(commits.map((c) => c.table_name)).toEqual(["errors", "results"]);

    // the columns hold the same values as the jsonl sink's lines (written from the same JSON text)
    const lines = new Map(
      readJsonl<Record<string, unknown>>(path.join(dir, "out/results.jsonl")).map((r) => [r.id as string, r]),
    );
    expect(checkExactlyOnce([...lines.keys()], expectedOk)).toEqual(none);
    for (const row of results) {
      const line = lines.get(row.id)!;
      expect(row.status).toBe("success");
      expect(JSON.parse(row.response!)).toEqual(line.response);
      expect(JSON.parse(row.input)).toEqual(line.input);
      expect(JSON.parse(row.usage!)).toEqual(line.usage);
      expect(row.output).toBe(line.output);
      expect(row.source_line).toBe((line.source as { line: number }).line);
    }
    const errorLines = new Map(
      readJsonl<Record<string, unknown>>(path.join(dir, "out/errors.jsonl")).map((r) => [r.id as string, r]),
    );
    for (const row of errors) {
      expect(JSON.parse(row.error!)).toMatchObject({ code: "context_length_exceeded" });
      expect(JSON.parse(row.error!)).toEqual(errorLines.get(row.id)!.error);
      expect(JSON.parse(row.input)).toEqual(errorLines.get(row.id)!.input);
    }
  });
});
