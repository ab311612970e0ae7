// `batchpipe view --port N` with N taken by another process ended '✖ unexpected error: listen
// EADDRINUSE … this is a bug in batchpipe', exit 1. It is a usage error that says so, as for
// `batchpipe emulator`.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

it("a port in use is a usage error that says so", async () => {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    `version: 1
name: taken
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: jsonl, path: ./out.jsonl }]
`,
  );
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"hi"}\n');
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const view = await batchpipe(["view", "pipeline.yaml", "--port", String(port)], {
      cwd: dir,
      timeoutMs: 20_000,
    });
    expect(view.code).toBe(2);
    expect(view.stderr).not.toContain("unexpected error");
    expect(view.stderr).toContain(`✖ port ${port} on 127.0.0.1 is in use (USAGE)`);
    expect(view.stderr).toContain("hint: Give another --port, or leave it out for a free one.");
  } finally {
    holder.close();
  }
});
