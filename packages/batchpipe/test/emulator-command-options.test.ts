// `batchpipe emulator` takes the options of the batchpipe-emulator bin, which the emulator's README
// says it is the same server as: --data-dir (where uploaded files are kept) and --api-key (the one
// bearer token it accepts).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startBatchpipe, tempDir, waitFor } from "./support/harness.js";

describe("batchpipe emulator --data-dir --api-key", () => {
  it("keeps its files in --data-dir and answers only --api-key", async () => {
    const dataDir = path.join(tempDir(), "emulator-data");
    const emulator = startBatchpipe(["emulator", "--data-dir", dataDir, "--api-key", "sk-emu-only"]);
    try {
      const url = () => /listening on (\S+)/.exec(emulator.stdout())?.[1];
      await waitFor(() => url() !== undefined || emulator.child.exitCode !== null, 20_000, "the emulator");
      expect(emulator.stderr()).toBe("");
      const upload = (key: string) => {
        const form = new FormData();
        form.append("purpose", "batch");
        form.append("file", new Blob(['{"custom_id":"a"}\n']), "in.jsonl");
        return fetch(`${url()}/files`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}` },
          body: form,
        });
      };
      expect((await upload("sk-other")).status).toBe(401);
      expect((await upload("sk-emu-only")).status).toBe(200);
      expect(fs.readdirSync(dataDir).length).toBeGreaterThan(0);
    } finally {
      emulator.child.kill("SIGTERM");
      await emulator.done;
    }
    // a folder it was given is the user's: left in place
    expect(fs.existsSync(dataDir)).toBe(true);
  });
});
