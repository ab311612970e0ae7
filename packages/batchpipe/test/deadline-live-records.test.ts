// The report's cost line said "live prices for N requests answered live after batch.deadline", but
// N counts records: identical records share one request (sent once, the result fanned back), so 40
// records over 20 distinct requests read "40 requests" while 20 were sent. The line now says records.
import { describe, expect, it } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

describe("the report's records answered live", () => {
  it("40 records, 20 distinct requests, all answered live: the cost line counts 40 records", async () => {
    let data = "";
    for (let i = 1; i <= 40; i++)
      data += `${JSON.stringify({ id: `r${i}`, text: `hello ${(i % 20) + 1}` })}\n`;
    const dir = writeFiles({
      "pipeline.yaml": [
        "version: 1",
        "name: live-records",
        "provider: { use: emulator, emulator: { timeScale: 1 } }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: 16, messages: [{ role: user, content: "{{ text }}" }] }',
        // the deadline passes before any batch is created: every request goes live
        "batch: { poll_interval: 50ms, deadline: 1ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
      "data.jsonl": data,
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/identical\s+20 \(sent once, result fanned back\)/);
    expect(run.stdout).toMatch(/live prices for 40 records answered live after batch\.deadline/);
    expect(run.stdout).not.toMatch(/live prices for 40 requests/);
  });
});
