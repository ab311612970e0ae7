// A result cache that cannot store (a damaged or read-only file, a full disk) costs money, never a
// delivery: the run says so once and delivers every paid result.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { officialPlugins, readJsonl, tempDir } from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";
import { numbersSpec } from "./fixtures/numbers-spec.js";

it("a cache whose writer cannot open its file: one warning, and every result is delivered", async () => {
  const dir = tempDir();
  const cacheFile = path.join(dir, ".batchpipe/store-fails/cache.db");
  const warnings: string[] = [];
  let swapped = false;
  const result = await runSpec(
    numbersSpec({
      name: "store-fails",
      count: 12,
      maxRequests: 4,
      sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
    }),
    {
      dir,
      builtins: officialPlugins,
      onEvent: (event) => {
        // the cache is open by now, and its writer thread starts at the first collection: a folder
        // in the file's place is what it then fails to open
        if (event.type === "shard_submitted" && !swapped) {
          swapped = true;
          for (const f of ["", "-wal", "-shm"]) fs.rmSync(cacheFile + f, { force: true });
          fs.mkdirSync(cacheFile);
        }
        if (event.type === "warning") warnings.push(event.message);
      },
    },
  );
  expect(swapped).toBe(true);
  expect(result.report).toMatchObject({ read: 12, succeeded: 12, failed: 0 });
  expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(12);
  expect(warnings.filter((w) => w.includes("cannot store results in the result cache"))).toEqual([
    expect.stringContaining("This run goes on without storing its results"),
  ]);
});
