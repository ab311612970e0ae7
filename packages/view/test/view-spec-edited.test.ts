/**
 * `batchpipe view <folder>` shows a spec edited while it runs as it is now: its sink moved (the
 * records are read from the new path, the pipeline keeps its key), its name changed (listed under
 * the new name). The CLI in a child process, a real run against the in-process emulator, its JSON
 * API over loopback.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type RunningChild,
  signalOnce,
  startBatchpipe,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";

const spec = (name: string, sink: string) => `version: 1
name: ${name}
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 100ms }
sinks: [{ use: jsonl, path: ${sink} }]
`;

let dir: string;
let viewer: RunningChild;
let url: string;
let run: string;

beforeAll(async () => {
  dir = tempDir("bp-view-edited-");
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"one"}\n{"id":"b","text":"two"}\n');
  fs.writeFileSync(path.join(dir, "p.yaml"), spec("first", "./out/first.jsonl"));
  const done = await batchpipe(["run", "p.yaml", "--json"], { cwd: dir });
  expect(done.code).toBe(0);
  run = String(done.events.find((e) => e.type === "run_started")?.run);
  viewer = startBatchpipe(["view", ".", "--port", "0"], { cwd: dir, timeoutMs: 120_000 });
  await waitFor(() => /listening on (\S+)/.test(viewer.stdout()), 30_000, "the viewer's URL");
  url = /listening on (\S+)/.exec(viewer.stdout())![1]!;
}, 90_000);

afterAll(async () => {
  if (viewer) {
    signalOnce(viewer.child, "SIGTERM");
    await viewer.done;
  }
});

async function get<T>(route: string, params: Record<string, string> = {}): Promise<T> {
  const at = new URL(route, url);
  for (const [k, v] of Object.entries(params)) at.searchParams.set(k, v);
  return (await (await fetch(at)).json()) as T;
}

const records = async () =>
  (await get<{ rows: { id: string }[] }>("/api/records", { pipeline: "first", run })).rows
    ?.map((r) => r.id)
    .sort();

describe("a spec edited while the viewer runs", () => {
  it("is shown as it is now: its moved sink read, its new name listed", async () => {
    expect(await records()).toEqual(["a", "b"]);
    // the results moved, and the spec says where
    fs.renameSync(path.join(dir, "out", "first.jsonl"), path.join(dir, "out", "moved.jsonl"));
    fs.writeFileSync(path.join(dir, "p.yaml"), spec("first", "./out/moved.jsonl"));
    await waitFor(
      async () => (await records())?.length === 2,
      10_000,
      "the records read from the moved sink",
    );

    fs.writeFileSync(path.join(dir, "p.yaml"), spec("second", "./out/moved.jsonl"));
    await waitFor(
      async () =>
        (await get<{ pipelines: { name: string }[] }>("/api/runs")).pipelines.map((p) => p.name).join() ===
        "second",
      10_000,
      "the pipeline listed under its new name",
    );
    expect(viewer.stderr()).toContain("batchpipe view: loaded again (edited) p.yaml");
  }, 60_000);
});
