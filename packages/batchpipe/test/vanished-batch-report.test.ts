// A batch that vanished from the provider (410 on three polls in a row, absent from its list) has
// its requests retried: the report counts them once, as retried. Before, the same 300 requests were
// also counted as "missing lines 300", lines a results file lacked, though no results file existed.
// Real CLI in a child process, the emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, records, startEmulator, tempDir, writePipeline } from "./support/harness.js";

describe("a vanished batch in the report", () => {
  it("its 300 requests are retried, not also missing lines", async () => {
    const emu = await startEmulator({
      faults: [
        // the first batch's first three polls: gone; the retry batch's polls answer
        { route: "GET /v1/batches/:id", status: 410, calls: [1, 2, 3] },
        {
          route: "GET /v1/batches",
          status: 200,
          body: '{"object":"list","data":[],"has_more":false}',
          contentType: "application/json",
        },
      ],
    });
    try {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(300));
      const spec = writePipeline(dir, { baseUrl: emu.url, name: "vanished" });
      const run = await batchpipe(["run", spec], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/disappeared/);
      const rows = run.stdout
        .split("\n")
        .filter((l) => /^ {2}(retried|missing lines|unexpected lines|batches) /.test(l));
      expect(rows).toMatchInlineSnapshot(`
        [
          "  retried          300",
          "  unexpected lines 0",
          "  missing lines    0",
          "  batches          2 (1 shard, 0 queue refusals)",
        ]
      `);
    } finally {
      await emu.close();
    }
  });
});
