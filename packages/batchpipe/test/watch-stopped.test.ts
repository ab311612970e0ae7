// What a watcher says: stopped in the middle of a group (SIGTERM: `batchpipe stop`, Ctrl-C), what
// `status` and `cancel` say about the group's unfinished run and what `watch --json` prints; and
// an engine warning, said once; an invalid line, named by the user's file.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchpipe,
  type CliEvent,
  readJsonl,
  signalOnce,
  startBatchpipe,
  tempDir,
  writeEmulatorPipeline,
} from "./support/harness.js";

describe("batchpipe watch stopped mid-group", () => {
  it("status and cancel name `batchpipe watch` and the stop; --json ends with an interrupted event", async () => {
    const dir = tempDir("bp-watch-stopped-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-stopped" });
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), '{"id":"a1","text":"x"}\n{"id":"a2","text":"y"}\n');
    const w = startBatchpipe(
      ["watch", "pipeline.yaml", "--json", "--settle", "100ms", "--coalesce", "100ms"],
      {
        cwd: dir,
        onEvent: (event, child) => {
          if (event.type === "engine" && (event.event as CliEvent).type === "shard_submitted")
            signalOnce(child, "SIGTERM");
        },
      },
    );
    expect((await w.done).code).toBe(143);
    expect(w.events.at(-1)).toEqual({
      type: "interrupted",
      signal: "SIGTERM",
      resume: "batchpipe watch pipeline.yaml",
    });

    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.stdout).toContain("ended on: interrupted by SIGTERM (INTERRUPTED)");
    expect(status.stdout).toContain("resume with: batchpipe watch pipeline.yaml");
    expect(status.stdout).not.toContain("batchpipe run");
    const cancel = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(cancel.stdout).toContain("`batchpipe watch pipeline.yaml` does it");
  });
});

describe("batchpipe watch output", () => {
  it("an engine warning is printed once", async () => {
    const dir = tempDir("bp-watch-warning-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-warning" });
    fs.appendFileSync(path.join(dir, "pipeline.yaml"), 'notify: [{ command: "exit 3" }]\n');
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), '{"id":"a1","text":"x"}\n');
    const result = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.split("\n").filter((line) => line.includes("exit 3"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^ {2}⚠ the notify command `exit 3`/);
  });

  it("an invalid line is named by the file it is in, not by the watcher's snapshot", async () => {
    const dir = tempDir("bp-watch-invalid-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-invalid", errors: true });
    fs.writeFileSync(path.join(dir, "inbox/bad.jsonl"), '{"id":"a1","text":"x"}\nnot json\n');
    const result = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir });
    expect(result.code, result.stderr).toBe(3);
    const [row] = readJsonl<{ error: { code: string; message: string } }>(path.join(dir, "out/errors.jsonl"));
    expect(row!.error.code).toBe("invalid_input");
    // named from the spec's folder, as the row's id
    expect(row!.error.message).toMatch(/^inbox\/bad\.jsonl:2: invalid JSON/);
    expect(`${result.stdout}${result.stderr}${row!.error.message}`).not.toContain("snapshots");
  });
});
