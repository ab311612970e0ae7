// `batchpipe emulator` given options it cannot use (a misspelt option in --config, a value out of
// range, a port already taken, a config file that is not JSON) says what is wrong and exits 2,
// instead of calling it a bug in batchpipe.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, startBatchpipe, tempDir, waitFor } from "./support/harness.js";

describe("batchpipe emulator with options it cannot use", () => {
  it("a misspelt option in --config, or a value out of range, is a usage error", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "emu.json"), JSON.stringify({ timeScal: 5 }));
    const misspelt = await batchpipe(["emulator", "--config", "emu.json"], { cwd: dir, timeoutMs: 20_000 });
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).not.toContain("unexpected error");
    expect(misspelt.stderr).toContain("✖ emulator options: unknown option 'timeScal' (USAGE)");

    const negative = await batchpipe(["emulator", "--time-scale", "-5"], { cwd: dir, timeoutMs: 20_000 });
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain(
      "✖ emulator options: timeScale: Too small: expected number to be >0 (USAGE)",
    );
  });

  it("a port in use is a usage error that says so", async () => {
    const first = startBatchpipe(["emulator", "--port", "0"]);
    try {
      const url = () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(first.stdout())?.[1];
      await waitFor(() => url() !== undefined, 20_000, "the first emulator to listen");
      const second = await batchpipe(["emulator", "--port", url()!], { timeoutMs: 20_000 });
      expect(second.code).toBe(2);
      expect(second.stderr).not.toContain("unexpected error");
      expect(second.stderr).toContain(`✖ port ${url()} on 127.0.0.1 is in use (USAGE)`);
      expect(second.stderr).toContain("hint: Give another --port, or leave it out for a free one.");
    } finally {
      first.child.kill("SIGTERM");
      await first.done;
    }
  });

  it("a config file that cannot be read says why", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "emu.json"), "{ timeScale: 5");
    const broken = await batchpipe(["emulator", "--config", "emu.json"], { cwd: dir, timeoutMs: 20_000 });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/✖ cannot read the emulator config emu\.json: .*JSON.* \(USAGE\)/);
    const missing = await batchpipe(["emulator", "--config", "nope.json"], { cwd: dir, timeoutMs: 20_000 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("✖ cannot read the emulator config nope.json: no such file (USAGE)");
  });
});
