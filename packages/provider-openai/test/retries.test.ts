import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { ProviderError } from "../src/index.js";
import { rejection, setup, submit, tag, waitEnded, writeShard } from "./helpers.js";

const signal = () => new AbortController().signal;

describe("retries", () => {
  it("rides out 429s, honouring retry-after-ms and retry-after", async () => {
    const { connection, dir, emu, retries } = await setup({
      faults: [
        { route: "POST /v1/batches", calls: [1, 2], status: 429, retryAfterMs: 200 },
        { route: "GET /v1/batches/:id", calls: [1], status: 429, retryAfter: 1 },
      ],
    });
    const started = Date.now();
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(retries.map((r) => [r.route, r.status, r.delayMs])).toEqual([
      ["POST /batches", 429, 200],
      ["POST /batches", 429, 200],
    ]);
    expect((await connection.poll(batch, { signal: signal() }))?.id).toBe(batch.id);
    expect(retries.at(-1)).toMatchObject({ status: 429, delayMs: 1000 });
    const state = emu.state();
    expect(state.calls["POST /v1/batches"]).toBe(3);
    expect(state.batches).toHaveLength(1);
  });

  it("retries 500s and gives up with PROVIDER_FAILED after retry_attempts", async () => {
    const { connection, dir, emu } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", calls: [1, 2, 3], status: 502 }] },
      { retry_attempts: 4 },
    );
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    expect((await connection.poll(batch, { signal: signal() }))?.id).toBe(batch.id);
    expect(emu.state().calls["GET /v1/batches/:id"]).toBe(4);

    emu.configure({ faults: [{ route: "GET /v1/batches/:id", status: 503 }] });
    const error = await rejection(connection.poll(batch, { signal: signal() }));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: "PROVIDER_FAILED", status: 503, attempts: 4 });
    expect((error as Error).message).toContain(`GET /batches/${batch.id} failed after 4 attempts: HTTP 503`);
    expect((error as ProviderError).hint).toMatch(/run again/);
  });

  it("retries a call that times out", async () => {
    const { connection, dir, retries } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", calls: [1], kind: "delay", delayMs: 1_000 }] },
      { timeout_ms: 200 },
    );
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    expect((await connection.poll(batch, { signal: signal() }))?.id).toBe(batch.id);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.reason).toMatch(/timed out/i);
  });

  it("does not retry when x-should-retry says false, nor on a 400", async () => {
    const { connection, dir, emu } = await setup({
      faults: [{ route: "GET /v1/batches/:id", calls: [1], status: 500, shouldRetry: false }],
    });
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    const error = await rejection(connection.poll(batch, { signal: signal() }));
    expect(error).toMatchObject({ code: "PROVIDER_FAILED", status: 500, attempts: 1 });
    expect(emu.state().calls["GET /v1/batches/:id"]).toBe(1);

    const bad = await rejection(submit(connection, writeShard(dir, tag("b"), 1, { endpoint: "/v1/nope" })));
    expect(bad).toMatchObject({ code: "PROVIDER_FAILED", status: 400, attempts: 1 });
    expect((bad as Error).message).toMatch(/POST \/batches failed: HTTP 400 invalid_value: .*\/v1\/nope/);
  });

  it("stops retrying when aborted, with the abort reason", async () => {
    const { connection, dir } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", status: 503 }] },
      { retry_min_delay_ms: 5_000, retry_max_delay_ms: 5_000 },
    );
    const { batch } = await submit(connection, writeShard(dir, tag("a"), 3));
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("stop now")), 100);
    const error = await rejection(connection.poll(batch, { signal: controller.signal }));
    expect((error as Error).message).toBe("stop now");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("no duplicates after an ambiguous failure", () => {
  it("a create that succeeds but answers 500 does not create a second batch", async () => {
    const { connection, dir, emu } = await setup({
      faults: [{ route: "POST /v1/batches", calls: [2], kind: "drop", status: 500 }],
    });
    const first = await submit(connection, writeShard(dir, tag("00001"), 3)); // created normally
    const second = await submit(connection, writeShard(dir, tag("00002"), 3)); // stored, answered 500, found
    const state = emu.state();
    expect(state.calls["POST /v1/batches"]).toBe(2);
    expect(state.batches).toHaveLength(2);
    expect(second.batch.id).not.toBe(first.batch.id);
    expect(state.batches.find((b) => b.id === second.batch.id)?.metadata).toMatchObject({
      batchpipe_shard: "00002",
    });
  });

  it("a create dropped after a 503 finds its batch by metadata, not another submission's", async () => {
    const { connection, dir, emu } = await setup({
      faults: [{ route: "POST /v1/batches", calls: [1], kind: "drop", status: 503 }],
    });
    const shard = writeShard(dir, tag("7", 2), 2);
    const r = await submit(connection, shard);
    expect(emu.state().batches).toHaveLength(1);
    expect(emu.state().batches[0]?.metadata).toMatchObject({ batchpipe_shard: "7", batchpipe_attempt: "2" });
    expect(r.batch.id).toBe(emu.state().batches[0]?.id);
    // another submission of the same shard is another batch
    const r2 = await submit(connection, { ...shard, tag: tag("7", 3) }, { staged: r.staged });
    expect(r2.batch.id).not.toBe(r.batch.id);
    expect(emu.state().batches).toHaveLength(2);
  });

  it("an upload that is stored but answered 500 is not stored twice", async () => {
    const { connection, dir, emu } = await setup({
      faults: [{ route: "POST /v1/files", calls: [1], kind: "drop", status: 500 }],
    });
    const shard = writeShard(dir, tag("00001"), 5);
    const { staged } = await submit(connection, shard);
    const state = emu.state();
    expect(state.calls["POST /v1/files"]).toBe(1);
    expect(state.files).toHaveLength(1);
    expect(state.files[0]).toMatchObject({
      id: (staged as { fileId: string }).fileId,
      filename: "batchpipe-p-run-1-00001.jsonl",
      bytes: fs.statSync(shard.file).size,
    });
  });

  it("an upload refused with 500 (nothing stored) is sent again from a fresh stream", async () => {
    const { connection, dir, emu } = await setup({
      faults: [{ route: "POST /v1/files", calls: [1, 2], status: 500 }],
    });
    const shard = writeShard(dir, tag("00001"), 50);
    await submit(connection, shard);
    const state = emu.state();
    expect(state.calls["POST /v1/files"]).toBe(3);
    expect(state.files).toHaveLength(1);
    expect(state.files[0]?.bytes).toBe(fs.statSync(shard.file).size);
  });

  it("after a crash between upload and stage, maybeStarted finds the upload instead of sending it again", async () => {
    const { connection, dir, emu } = await setup();
    const shard = writeShard(dir, tag("00001"), 4);
    const crashed = connection.submit(shard, {
      signal: signal(),
      staged: null,
      maybeStarted: false,
      since: Date.now() - 15 * 60_000,
      stage() {
        throw new Error("crash");
      },
    });
    await expect(crashed).rejects.toThrow("crash");
    expect(emu.state().files).toHaveLength(1);
    expect(emu.state().batches).toHaveLength(0);

    const resumed = await submit(connection, shard, { maybeStarted: true });
    expect(emu.state().calls["POST /v1/files"]).toBe(1);
    expect(resumed.staged).toEqual({ fileId: emu.state().files[0]?.id });
    expect((await waitEnded(connection, resumed.batch)).ending).toBe("completed");

    // without the flag the same shard is uploaded again
    await submit(connection, { ...shard, tag: tag("00001", 2) });
    expect(emu.state().files.filter((f) => f.purpose === "batch")).toHaveLength(2);
  });
});
