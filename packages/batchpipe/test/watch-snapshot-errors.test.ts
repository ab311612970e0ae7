// A file watch mode cannot copy to its snapshot (the disk is full, the snapshot folder unusable)
// raises a file_error event, leaves no partial copy behind and is tried again.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { describe, expect, it } from "vitest";
import {
  CLI_BIN,
  type CliEvent,
  childEnv,
  readJsonl,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

function fixture(name: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  writeEmulatorPipeline(dir, { name });
  return dir;
}

/** `batchpipe watch --once --json` with a file size limit (`ulimit -f`, 512-byte blocks): writes past it fail with EFBIG */
function onceWithFileSizeLimit(
  dir: string,
  blocks: number,
): Promise<{ code: number | null; events: CliEvent[] }> {
  const command = `ulimit -f ${blocks} && exec "${process.execPath}" "${CLI_BIN}" watch pipeline.yaml --once --json --settle 200ms`;
  const child = spawn("sh", ["-c", command], {
    cwd: dir,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: CliEvent[] = [];
  readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith("{")) events.push(JSON.parse(line) as CliEvent);
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, events })));
}

const snapshotsOf = (dir: string, name: string) => {
  const folder = path.join(dir, ".batchpipe", name, "watch/snapshots");
  return fs.existsSync(folder) ? fs.readdirSync(folder) : [];
};

describe("watch: a file that cannot be snapshotted", () => {
  it("--once: the disk fills during the copy: file_error, retried, the partial copy removed, the run ends without the file (exit 1)", async () => {
    const dir = fixture("snap-full");
    // 1.5 MB of records; the limit lets 1 MB be written
    let text = "";
    for (let i = 0; text.length < 1_500_000; i++)
      text += `${JSON.stringify({ id: `r${i}`, text: "x".repeat(200) })}\n`;
    fs.writeFileSync(path.join(dir, "inbox/big.jsonl"), text);
    const run = await onceWithFileSizeLimit(dir, 2048);
    const errors = run.events.filter((e) => e.type === "file_error");
    expect(errors.map((e) => e.retryInMs)).toEqual([1000, 2000, null]);
    expect(errors[0]).toMatchObject({ error: { code: "STATE_FAILED" } });
    expect(String((errors[0]!.error as { message: string }).message)).toMatch(/file too large/);
    expect(run.events.at(-1)).toMatchObject({ type: "summary", files: 0, filesFailed: 1 });
    expect(run.code).toBe(1);
    expect(snapshotsOf(dir, "snap-full")).toEqual([]);
  });

  it("a running watcher retries until the snapshot folder is usable again, then processes the file", async () => {
    const dir = fixture("snap-retry");
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    await waitFor(() => w.events.some((e) => e.type === "watching"), 20_000, "the watcher to start");
    // a file where the snapshot folder belongs: every copy fails
    const blocker = path.join(dir, ".batchpipe/snap-retry/watch/snapshots");
    fs.rmSync(blocker, { recursive: true, force: true });
    fs.writeFileSync(blocker, "");
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), '{"id":"a1","text":"x"}\n');
    await waitFor(
      () => w.events.filter((e) => e.type === "file_error").length >= 2,
      30_000,
      `two failed copies: ${JSON.stringify(w.events.map((e) => e.type))} ${w.stderr()}`,
    );
    fs.rmSync(blocker);
    await waitFor(() => w.events.some((e) => e.type === "group_finished"), 60_000, "the file's run");
    signalOnce(w.child, "SIGTERM");
    await w.done;
    const errors = w.events.filter((e) => e.type === "file_error");
    expect(errors.slice(0, 2).map((e) => e.retryInMs)).toEqual([1000, 2000]);
    expect(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id)).toEqual(["a1"]);
  });
});
