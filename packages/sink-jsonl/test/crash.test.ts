import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Checkpoint } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { expect, test } from "vitest";
import sink from "../src/index.js";

const writer = fileURLToPath(new URL("fixtures/crash-writer.mjs", import.meta.url));
const built = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** runs the writer until it has written uncommitted bytes past its 5th commit, then SIGKILLs it */
async function killMidWrite(
  path: string,
  append: boolean,
): Promise<{ commit: number; checkpoint: Checkpoint }> {
  const args = [writer, path, "5", ...(append ? ["append"] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let last: { commit: number; checkpoint: Checkpoint } | undefined;
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", () => reject(new Error(`the writer exited on its own: ${output}`)));
    child.stdout.on("data", (data: Buffer) => {
      output += data;
      const lines = output.split("\n").filter(Boolean);
      for (const line of lines) if (line.startsWith("{")) last = JSON.parse(line);
      if (!lines.includes("uncommitted")) return;
      // kill once uncommitted bytes have reached the file, mid-write
      const poll = setInterval(() => {
        if (statSync(path).size > (last!.checkpoint as number) + 2_000_000) {
          clearInterval(poll);
          child.removeAllListeners("exit");
          child.on("exit", () => resolve());
          child.kill("SIGKILL");
        }
      }, 5);
    });
  });
  return last!;
}

function ids(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line).id as string);
}

test("SIGKILL mid-write: reopening at the last checkpoint gives exactly the committed rows", async () => {
  expect(existsSync(built), "the child imports the built plugin: run `pnpm build` first").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), "sink-jsonl-crash-"));
  const path = join(dir, "out.jsonl");
  const last = await killMidWrite(path, false);
  expect(last.commit).toBe(4);
  expect(statSync(path).size).toBeGreaterThan(last.checkpoint as number);

  const parsed = sink.options.parse({ path });
  const handle = await sink.open({ ...createTestContext(dir, parsed), checkpoint: last.checkpoint });
  await handle.close();
  const kept = ids(path);
  expect(kept).toHaveLength(5000);
  expect(new Set(kept).size).toBe(5000);
  expect(kept.every((id) => id.startsWith("c"))).toBe(true);
  rmSync(dir, { recursive: true });
});

test("append: true keeps an earlier run's lines; SIGKILL mid-write and resume keep exactly them and the committed rows", async () => {
  expect(existsSync(built), "the child imports the built plugin: run `pnpm build` first").toBe(true);
  const dir = mkdtempSync(join(tmpdir(), "sink-jsonl-crash-"));
  const path = join(dir, "out.jsonl");
  const earlier = Array.from({ length: 3 }, (_, i) => JSON.stringify({ id: `earlier-${i}` })).join("\n");
  writeFileSync(path, `${earlier}\n`);
  const last = await killMidWrite(path, true);
  expect(last.commit).toBe(4);
  expect(last.checkpoint).toBeGreaterThan(earlier.length);

  const parsed = sink.options.parse({ path, append: true });
  const handle = await sink.open({ ...createTestContext(dir, parsed), checkpoint: last.checkpoint });
  await handle.close();
  const kept = ids(path);
  expect(kept.slice(0, 3)).toEqual(["earlier-0", "earlier-1", "earlier-2"]);
  expect(kept.slice(3)).toHaveLength(5000);
  expect(new Set(kept).size).toBe(5003);
  expect(kept.slice(3).every((id) => id.startsWith("c"))).toBe(true);
  rmSync(dir, { recursive: true });
});
