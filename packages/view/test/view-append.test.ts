/**
 * Which rows of a jsonl sink are a run's when runs add to the same file: `append: true`, and watch
 * mode (each file group is a run carrying the sinks on from the run before). Real runs through the
 * CLI (the emulator over loopback HTTP; the in-process one for watch) and the viewer's HTTP server.
 */

import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cli,
  officialPlugins,
  startEmulator,
  startWatcher,
  tempDir,
  writeDataset,
  writeEmulatorPipeline,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const env = { OPENAI_API_KEY: "sk-test" };
let emulator: Emulator;
const servers: ViewServer[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await emulator?.close();
});

async function serve(spec: string) {
  const pipeline = await loadPipeline(spec, { env, builtins: officialPlugins });
  const server = await startViewServer({ pipelines: [{ pipeline }] });
  servers.push(server);
  const get = async <T>(route: string) => (await (await fetch(new URL(route, server.url))).json()) as T;
  const listed = (await get<{
    pipelines: { key: string; runs: { id: string; succeeded: number; failed: number }[] }[];
  }>("/api/runs"))!.pipelines[0]!;
  const runs = listed.runs;
  /** every record of a run, page by page, by status, with the note the page shows */
  const records = async (run: string) => {
    const ids: Record<string, string[]> = { success: [], failed: [] };
    let cursor: string | null = null;
    let note: string | null = null;
    do {
      const query = new URLSearchParams({ pipeline: listed.key, run, ...(cursor ? { cursor } : {}) });
      const page = await get<{
        rows: { id: string; status: string }[];
        next: string | null;
        note: string | null;
      }>(`/api/records?${query}`);
      for (const row of page.rows) ids[row.status === "success" ? "success" : "failed"]!.push(row.id);
      cursor = page.next;
      note = page.note;
    } while (cursor);
    return { success: ids.success!.sort(), failed: ids.failed!.sort(), note };
  };
  return { runs, records, get };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`).sort();

describe("a run's records in a jsonl sink that keeps earlier runs' rows", () => {
  it("append: true shows each run its own rows, and says nothing replaced them", async () => {
    const dir = tempDir("bp-view-append-");
    writeDataset(dir, 5);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      sinks: ["- { use: jsonl, path: ./out/results.jsonl, fields: all, append: true }"],
    });
    expect((await cli(["run", spec], { env })).code).toBe(0);
    expect((await cli(["run", spec, "--force"], { env })).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "out/results.jsonl"), "utf8").trim().split("\n")).toHaveLength(10);

    const view = await serve(spec);
    const [second, first] = view.runs;
    for (const run of [second!, first!]) {
      const got = await view.records(run.id);
      expect(got).toEqual({ success: ids("rec-", 5), failed: [], note: null });
      expect(run.succeeded).toBe(5);
    }
    // the run page says nothing about a newer run holding the file
    expect(
      (await view.get<{ records: string | null }>(`/api/run?pipeline=test&run=${first!.id}`)).records,
    ).toBeNull();
  });

  it("in watch mode, shows each file group's run its own successes and failures", async () => {
    const dir = tempDir("bp-view-watch-");
    const spec = writeEmulatorPipeline(dir, { name: "view-watch", errors: true });
    fs.mkdirSync(path.join(dir, "inbox"));
    const lines = (list: string[]) => list.map((id) => `${JSON.stringify({ id, text: id })}\n`).join("");
    const once = async () => (await startWatcher(dir, undefined, ["--once", "--settle", "200ms"]).done).code;
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), lines(ids("a", 5)));
    expect(await once()).toBe(0);
    // a1..a5 again: delivered by the first group, they fail as duplicate_id in the second
    fs.writeFileSync(path.join(dir, "inbox/b.jsonl"), lines([...ids("b", 5), ...ids("a", 5)]));
    expect(await once()).toBe(3);

    const view = await serve(spec);
    const [second, first] = view.runs;
    expect([second!.succeeded, second!.failed, first!.succeeded, first!.failed]).toEqual([5, 5, 5, 0]);
    expect(await view.records(second!.id)).toEqual({ success: ids("b", 5), failed: ids("a", 5), note: null });
    expect(await view.records(first!.id)).toEqual({ success: ids("a", 5), failed: [], note: null });
    const failures = await view.get<{ codes: { code: string; count: number; examples: unknown[] }[] }>(
      `/api/failures?pipeline=view-watch&run=${first!.id}`,
    );
    expect(failures.codes).toEqual([]);

    // a plain run starts the files afresh; the next group's run appends to it again: the first two
    // runs' rows are gone, and the note names the runs whose rows the files hold now
    expect((await cli(["run", spec, "--force"], { env })).code).toBe(3);
    fs.writeFileSync(path.join(dir, "inbox/c.jsonl"), lines(ids("c", 3)));
    expect(await once()).toBe(0);
    const after = await serve(spec);
    const [fourth, third] = after.runs;
    expect(await after.records(fourth!.id)).toEqual({ success: ids("c", 3), failed: [], note: null });
    expect((await after.records(third!.id)).success).toEqual([...ids("a", 5), ...ids("b", 5)].sort());
    const held = `now holds the records of runs ${third!.id} to ${fourth!.id}`;
    expect(await after.records(second!.id)).toEqual({
      success: [],
      failed: [],
      note: `results.jsonl ${held}; errors.jsonl ${held}.`,
    });
    // the first run wrote no failures: only its successes were replaced
    expect((await after.records(first!.id)).note).toBe(`results.jsonl ${held}.`);
  });
});
