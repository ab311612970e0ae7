import fs from "node:fs";
import path from "node:path";
import { resolvePlugin } from "@batchpipe/core";
import { testProvider } from "@batchpipe/core/testing";
import { describe, expect, it, test } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  ROOT,
  readJsonl,
  tempDir,
} from "../../packages/batchpipe/test/support/harness.js";

const EXAMPLE = path.join(ROOT, "examples/writing-plugins");

// loaded as the engine loads it: resolved from the spec's folder, TypeScript through jiti
const echo = await resolvePlugin("provider", "./providers/echo-provider.ts", { dir: EXAMPLE });

describe("the echo provider (examples/writing-plugins/providers/echo-provider.ts)", () => {
  const checks = testProvider(echo, {
    makeOptions: (dir) => ({ dir: path.join(dir, "echo"), polls: 2 }),
    pollIntervalMs: 10,
    timeoutMs: 5_000,
    invalidOptions: [{ options: { polls: -1 }, path: ["polls"] }],
  });
  for (const check of checks) test(check.name, check.run);
});

/*
 * The engine end to end on the echo provider: `batchpipe run echo.yaml`, and the same after a
 * kill -9 mid-run. The echo provider's line format differs from OpenAI's on purpose: the run only
 * works when the engine writes shard lines with the provider's own `encode`.
 */
describe("batchpipe run on the echo provider", () => {
  it("answers every record once, locally", async () => {
    const dir = copyExample();
    const run = await batchpipe(["run", "echo.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expectEachOnce(dir);
    // clean_up: the provider's batch files are gone
    expect(fs.readdirSync(path.join(dir, ".echo-provider"))).toEqual([]);
  });

  for (const moment of ["shard_submitted", "shard_collected"]) {
    it(`resumes after a kill -9 at the first ${moment}: every record once, no batch created twice`, async () => {
      const dir = copyExample();
      const killed = await batchpipe(["run", "echo.yaml", "--json"], {
        cwd: dir,
        onEvent: (event, child) => {
          if (event.type === moment) child.kill("SIGKILL");
        },
      });
      expect(killed.signal).toBe("SIGKILL");
      const resumed = await batchpipe(["run", "echo.yaml", "--json"], { cwd: dir });
      expect(resumed.code, resumed.stderr).toBe(0);
      expectEachOnce(dir);
      const submitted = [...killed.events, ...resumed.events].filter((e) => e.type === "shard_submitted");
      const fresh = submitted.filter((e) => !e.adopted).map((e) => `${e.shard}#${e.submission}`);
      expect(new Set(fresh).size, "a shard submission created twice").toBe(fresh.length);
    });
  }
});

function copyExample(): string {
  const dir = tempDir("bp-echo-");
  for (const file of ["echo.yaml", "data.jsonl", "providers/echo-provider.ts"]) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(EXAMPLE, file), path.join(dir, file));
  }
  return dir;
}

function expectEachOnce(dir: string): void {
  const rows = readJsonl<{ id: string; output?: unknown }>(path.join(dir, "out/echo.jsonl"));
  const errorsFile = path.join(dir, "out/echo-errors.jsonl");
  expect(fs.existsSync(errorsFile) ? readJsonl(errorsFile) : []).toEqual([]);
  const ids = readJsonl<{ id: string }>(path.join(dir, "data.jsonl")).map((r) => r.id);
  expect(
    checkExactlyOnce(
      rows.map((r) => r.id),
      ids,
    ),
  ).toEqual({ missing: [], duplicated: [], extra: [] });
  expect(rows[0]?.output).toEqual(expect.any(String));
}
