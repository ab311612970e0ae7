/**
 * `batchpipe view <folder>` lists the pipeline specs written into the folder after it started (a
 * new pipeline, a spec still being written that loads once finished), without a restart. The CLI in
 * a child process, its JSON API over loopback.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningChild,
  signalOnce,
  startBatchpipe,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";

const spec = (name: string) => `version: 1
name: ${name}
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks: [{ use: jsonl, path: ./out/${name}.jsonl }]
`;

let dir: string;
let viewer: RunningChild;
let url: string;

beforeAll(async () => {
  dir = tempDir("bp-view-discover-");
  fs.writeFileSync(path.join(dir, "first.yaml"), spec("first"));
  viewer = startBatchpipe(["view", ".", "--port", "0"], { cwd: dir, timeoutMs: 120_000 });
  await waitFor(() => /listening on (\S+)/.test(viewer.stdout()), 30_000, "the viewer's URL");
  url = /listening on (\S+)/.exec(viewer.stdout())![1]!;
}, 60_000);

afterAll(async () => {
  if (viewer) {
    signalOnce(viewer.child, "SIGTERM");
    await viewer.done;
  }
});

async function listed(): Promise<string[]> {
  const body = (await (await fetch(new URL("/api/runs", url))).json()) as { pipelines: { name: string }[] };
  return body.pipelines.map((p) => p.name);
}

describe("specs added to the folder while the viewer runs", () => {
  it("are listed without restarting it, a half-written one once it is complete", async () => {
    expect(await listed()).toEqual(["first"]);
    fs.mkdirSync(path.join(dir, "later"));
    fs.writeFileSync(path.join(dir, "later", "second.yaml"), spec("second"));
    // half written: the transform is cut off (it does not load yet)
    fs.writeFileSync(path.join(dir, "third.yaml"), spec("third").split("transform:")[0]!);
    await waitFor(async () => (await listed()).includes("second"), 10_000, "the second spec listed");
    expect(await listed()).toEqual(["first", "second"]);
    fs.writeFileSync(path.join(dir, "third.yaml"), spec("third"));
    await waitFor(async () => (await listed()).includes("third"), 10_000, "the third spec listed");
    expect(await listed()).toEqual(["first", "second", "third"]);
    // and a page of the new pipeline answers (its key is its name)
    const run = new URL("/api/run", url);
    run.searchParams.set("pipeline", "third");
    run.searchParams.set("run", "none");
    expect(((await (await fetch(run)).json()) as { error: string }).error).toBe("no such pipeline or run");
    expect(viewer.stderr()).toContain("skipped third.yaml");
    expect(viewer.stderr()).toContain("batchpipe view: added third");
  });
});
