// The commands that only read the state (status, runs, cache, logs) never open a sink, yet a sink
// option written as an environment reference that was not set in their shell refused them: a
// pipeline with `url: "${DATABASE_URL}"` on its postgres sink could not be looked at with
// `batchpipe status` without the database's password in the environment. Only provider.api_key
// was exempt. `run` and `validate` still refuse it.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, records, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

// ${VAR} references in YAML, not JS templates
const ref = (name: string) => ["$", `{${name}}`].join("");

describe("status, runs and cache with a sink's variable unset", () => {
  it("answer from the state; run and validate still say the variable is not set", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "unset-sink-variable",
      sinks: [`- { use: jsonl, path: "${ref("OUT_DIR")}/results.jsonl" }`],
      errors: [`- { use: postgres, url: "${ref("DATABASE_URL")}", table: failures }`],
    });
    const unset = { OUT_DIR: undefined, DATABASE_URL: undefined };

    // no run yet: nothing to read, but no refusal of the spec either
    const before = await batchpipe(["status", spec], { cwd: dir, env: unset });
    expect(before.stderr).not.toContain("SPEC_INVALID");

    const run = await batchpipe(["run", spec], { cwd: dir, env: unset });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("environment variable OUT_DIR is not set");
    expect(run.stderr).toContain("environment variable DATABASE_URL is not set");
    const validate = await batchpipe(["validate", spec], { cwd: dir, env: unset });
    expect(validate.code).toBe(2);

    // a run with a jsonl errors sink instead, then the same spec again for the reading commands
    const runnable = writePipeline(dir, {
      baseUrl: emu.url,
      name: "unset-sink-variable",
      sinks: [`- { use: jsonl, path: "${ref("OUT_DIR")}/results.jsonl" }`],
    });
    const done = await batchpipe(["run", runnable], { cwd: dir, env: { OUT_DIR: path.join(dir, "out") } });
    expect(done.code, done.stderr).toBe(0);

    const status = await batchpipe(["status", runnable], { cwd: dir, env: unset });
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/records 5\/5 done · ok 5/);
    const runs = await batchpipe(["runs", runnable, "--json"], { cwd: dir, env: unset });
    expect(runs.code, runs.stderr).toBe(0);
    expect(JSON.parse(runs.stdout).runs).toMatchObject([{ status: "done", read: 5 }]);
    const cache = await batchpipe(["cache", runnable, "--json"], { cwd: dir, env: unset });
    expect(cache.code, cache.stderr).toBe(0);
    expect(JSON.parse(cache.stdout).cache).toMatchObject({ entries: 5 });
  });
});
