import fs from "node:fs";
import { tagKey } from "@batchpipe/core/plugin";
import { describe, expect, it } from "vitest";
import { collect, idsOf, setup, submit, tag, waitEnded, writeShard } from "./helpers.js";

describe("the openai provider against the emulator", () => {
  it("uploads and creates a tagged batch, polls it to the end, streams its results and cleans up", async () => {
    const { connection, dir, emu } = await setup();
    const shard = writeShard(dir, tag("00001"), 3);
    const { batch, staged } = await submit(connection, shard);
    const [file] = emu.state().files;
    expect(file).toMatchObject({
      filename: "batchpipe-p-run-1-00001.jsonl",
      bytes: fs.statSync(shard.file).size,
      purpose: "batch",
    });
    expect(staged).toEqual({ fileId: file?.id });
    expect(batch).toMatchObject({
      state: "running",
      status: "validating",
      ending: null,
      queueFull: null,
      errors: [],
      data: { input_file_id: file?.id, output_file_id: null, error_file_id: null },
    });
    expect(emu.state().batches[0]?.metadata).toEqual({
      batchpipe_name: "p",
      batchpipe_run: "run-1",
      batchpipe_shard: "00001",
      batchpipe_attempt: "1",
    });
    expect(batch.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(batch.expiresAt).toBeGreaterThan(batch.createdAt ?? 0);

    const ended = await waitEnded(connection, JSON.parse(JSON.stringify(batch)));
    expect(ended).toMatchObject({ state: "ended", status: "completed", ending: "completed" });
    expect(ended.counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const items = await collect(connection, ended);
    expect(idsOf(items)).toEqual(["r-0", "r-1", "r-2"]);
    for (const item of items) {
      expect(item).toMatchObject({ kind: "success", model: expect.stringMatching(/^gpt-4o-mini/) });
      if (item.kind === "success") expect(item.usage?.input_tokens).toBeGreaterThan(0);
    }

    expect(emu.state().files).toHaveLength(2); // the input and the output
    await connection.cleanUp({ staged, batch: ended });
    expect(emu.state().files).toEqual([]);
    await connection.cleanUp({ staged, batch: ended }); // already gone: not an error
  });

  it("cleanUp with a ref stored before the batch ended still finds its output file", async () => {
    const { connection, dir, emu } = await setup();
    const { batch, staged } = await submit(connection, writeShard(dir, tag("00001"), 2));
    await waitEnded(connection, batch);
    await connection.cleanUp({ staged, batch: { id: batch.id, data: batch.data } });
    expect(emu.state().files).toEqual([]);
  });

  it("find() pages through more batches than one list page holds and answers by tag", async () => {
    const { connection, dir, emu } = await setup();
    const since = Date.now() - 60_000;
    const first = await submit(connection, writeShard(dir, tag("0"), 1));
    for (let i = 1; i < 130; i++) {
      // the same staged upload, as a queue refusal would reuse it
      await submit(connection, writeShard(dir, tag(String(i)), 1), { staged: first.staged });
    }
    expect(emu.state().files.filter((f) => f.purpose === "batch")).toHaveLength(1);
    expect(emu.state().batches).toHaveLength(130);
    const batchIds = emu.state().batches.map((b) => b.id);
    const found = await connection.find([tag("0"), tag("129"), tag("7", 2), { ...tag("5"), run: "other" }], {
      since,
      signal: new AbortController().signal,
    });
    expect([...found.keys()].sort()).toEqual([tagKey(tag("0")), tagKey(tag("129"))].sort());
    expect(found.get(tagKey(tag("0")))?.id).toBe(first.batch.id);
    expect(batchIds).toContain(found.get(tagKey(tag("129")))?.id);
  });

  it("find() does not look at batches created before `since`", async () => {
    const { connection, dir } = await setup();
    await submit(connection, writeShard(dir, tag("0"), 1));
    const found = await connection.find([tag("0")], {
      since: Date.now() + 3_600_000,
      signal: new AbortController().signal,
    });
    expect(found.size).toBe(0);
  });

  it("poll of an unknown batch is null; cancel of an ended or unknown batch is not an error", async () => {
    const { connection, dir } = await setup();
    const signal = new AbortController().signal;
    expect(await connection.poll({ id: "batch_does_not_exist", data: null }, { signal })).toBeNull();
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    const ended = await waitEnded(connection, batch);
    await connection.cancel(ended);
    expect((await connection.poll(ended, { signal }))?.status).toBe("completed");
    await connection.cancel({ id: "batch_does_not_exist", data: null });
  });

  it("cancels a running batch: what never ran comes back as retryable batch_cancelled", async () => {
    const { connection, dir } = await setup({ latencies: { linesPerSecond: 1 } });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 50));
    while ((await connection.poll(batch, { signal: new AbortController().signal }))?.status !== "in_progress")
      await new Promise((r) => setTimeout(r, 20));
    await connection.cancel(batch);
    const ended = await waitEnded(connection, batch);
    expect(ended).toMatchObject({ status: "cancelled", ending: "cancelled" });
    const items = await collect(connection, ended);
    expect(idsOf(items)).toHaveLength(50);
    const cancelled = items.filter((i) => i.kind === "failure");
    expect(cancelled.length).toBeGreaterThan(40);
    for (const item of cancelled)
      expect(item).toMatchObject({ error: { code: "batch_cancelled" }, retryable: true });
  });

  it('normalises "" file ids to null', async () => {
    const { connection, dir } = await setup({ emptyStringIds: true });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 2));
    expect(batch.data).toMatchObject({ output_file_id: null, error_file_id: null });
    const ended = await waitEnded(connection, batch);
    expect(ended.data).toMatchObject({
      output_file_id: expect.stringMatching(/^file-/),
      error_file_id: null,
    });
  });

  it("a synchronous 400 token_limit_exceeded is a full queue; the staged upload is reused", async () => {
    const { connection, dir, emu } = await setup({
      queueLimits: { "gpt-4o-mini": 5 },
      failFastTokenLimit: true,
    });
    const shard = writeShard(dir, tag("a"), 20);
    let staged: unknown = null;
    const options = {
      signal: new AbortController().signal,
      maybeStarted: false,
      since: Date.now() - 15 * 60_000,
      stage: (data: unknown) => {
        staged = data;
      },
    };
    const refused = await connection.submit(shard, { ...options, staged: null });
    expect(refused).toEqual({ queueFull: expect.stringMatching(/enqueued token limit/i) });
    expect(staged).toEqual({ fileId: emu.state().files[0]?.id });
    const again = await connection.submit(
      { ...shard, tag: tag("a", 2) },
      { ...options, staged: staged as null },
    );
    expect("queueFull" in again).toBe(true);
    expect(emu.state().files).toHaveLength(1);
    expect(emu.state().batches).toHaveLength(0);
  });

  it("a batch the queue fails with token_limit_exceeded ends with queueFull", async () => {
    const { connection, dir } = await setup({ queueLimits: { "gpt-4o-mini": 5 } });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 20));
    const ended = await waitEnded(connection, batch);
    expect(ended).toMatchObject({
      state: "ended",
      ending: "failed",
      queueFull: expect.stringMatching(/enqueued token limit/i),
      errors: [{ code: "token_limit_exceeded", line: null }],
    });
  });

  it("a batch that fails validation reports each bad line; results skip nothing and invent nothing", async () => {
    const { connection, dir } = await setup();
    const shard = writeShard(dir, tag("a"), 3);
    const lines = fs.readFileSync(shard.file, "utf8").split("\n");
    lines[1] = lines[1]!.replace('"url":"/v1/chat/completions"', '"url":"/v1/embeddings"');
    fs.writeFileSync(shard.file, lines.join("\n"));
    const { batch } = await submit(connection, shard);
    const ended = await waitEnded(connection, batch);
    expect(ended).toMatchObject({ ending: "failed", queueFull: null });
    expect(ended.errors).toEqual([{ code: expect.any(String), message: expect.any(String), line: 2 }]);
    expect(await collect(connection, ended)).toEqual([]);
  });

  it("a result line that is not JSON is unreadable; the others come through", async () => {
    const { connection, dir } = await setup({ lineRules: [{ customIds: ["r-1"], oddity: "malformed" }] });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    const items = await collect(connection, await waitEnded(connection, batch));
    expect(idsOf(items.filter((i) => i.kind === "success"))).toEqual(["r-0", "r-2"]);
    const unreadable = items.filter((i) => i.kind === "unreadable");
    expect(unreadable).toEqual([
      {
        kind: "unreadable",
        reason: expect.stringMatching(/^line \d+ of the output file file-\S+ is not JSON/),
      },
    ]);
  });

  it("per-line failures come from the error file with their code, status and retryability", async () => {
    const { connection, dir } = await setup({
      lineRules: [
        { customIds: ["r-0"], error: "context_length_exceeded" },
        { customIds: ["r-1"], error: "server_error" },
      ],
    });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    const items = await collect(connection, await waitEnded(connection, batch));
    const byId = Object.fromEntries(items.map((i) => ["id" in i ? i.id : "?", i]));
    expect(byId["r-0"]).toMatchObject({
      kind: "failure",
      error: { code: "context_length_exceeded", status_code: 400 },
      retryable: false,
    });
    expect(byId["r-1"]).toMatchObject({ kind: "failure", error: { code: "server_error" }, retryable: true });
    expect(byId["r-2"]).toMatchObject({ kind: "success" });
  });
});
