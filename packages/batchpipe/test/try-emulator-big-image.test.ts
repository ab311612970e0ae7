// `batchpipe try` of a record carrying a 5 MB base64 image against the emulator: OpenAI takes live
// requests up to 50 MB, and so does the emulator now (it refused past 4 MB with a 400 the real API
// would not give); the image counts in the answer's input tokens. The real CLI, `use: emulator`.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

it("try answers a record with a 5 MB base64 image; its input tokens count the image", async () => {
  const dir = tempDir();
  const image = Buffer.alloc(5 * 1024 * 1024, 7).toString("base64");
  fs.writeFileSync(path.join(dir, "data.jsonl"), `${JSON.stringify({ id: "p1", image })}\n`);
  const lines = [
    "version: 1",
    "name: try-big-image",
    "provider: { use: emulator }",
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    "  body:",
    "    model: gpt-4o",
    "    messages:",
    "      - role: user",
    "        content:",
    "          - { type: text, text: Describe it }",
    '          - { type: image_url, image_url: { url: "data:image/png;base64,{{ image }}" } }',
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${lines.join("\n")}\n`);
  const run = await batchpipe(["try", "pipeline.yaml", "--ids", "p1"], { cwd: dir });
  expect(run.code, run.stdout + run.stderr).toBe(0);
  // 3 per request + 4 per message + "Describe it" (3) + the image (765: gpt-4o, 1024x1024 by its tiles)
  expect(run.stdout).toMatch(/^answer {3}✔ \d+ ms · 775 in \/ 3 out tokens/m);
  expect(run.stdout).toContain("1 record tried: 1 answered, 0 failed");
});
