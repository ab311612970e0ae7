import fs from "node:fs";
import path from "node:path";
import OpenAI, { toFile } from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator } from "../src/index.js";
import { chatLine, type Harness, startHarness, upload, waitForBatch, writeJsonl } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

describe("files", () => {
  it("uploads (multipart, streamed to disk), retrieves, streams content and deletes", async () => {
    h = await startHarness();
    const file = writeJsonl(h.dir, "input.jsonl", [{ a: 1 }, { b: "é" }]);
    const bytes = fs.statSync(file).size;
    const created = await upload(h.client, file);
    expect(created).toMatchObject({
      object: "file",
      bytes,
      filename: "input.jsonl",
      purpose: "batch",
      status: "processed",
    });
    expect(created.id).toMatch(/^file-[0-9A-Za-z]{22}$/);
    expect(created.expires_at).toBe(created.created_at + 30 * 86400);
    expect(await h.client.files.retrieve(created.id)).toEqual(created);
    const content = await (await h.client.files.content(created.id)).text();
    expect(content).toBe(fs.readFileSync(file, "utf8"));
    // stored on disk under the data dir
    expect(fs.readdirSync(path.join(h.emu.dataDir, "files"))).toContain(created.id);
    expect(await h.client.files.delete(created.id)).toEqual({
      id: created.id,
      object: "file",
      deleted: true,
    });
    await expect(h.client.files.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(h.client.files.content(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(h.client.files.delete(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it("honours expires_after and rejects bad purposes", async () => {
    h = await startHarness();
    const f = await h.client.files.create({
      file: await toFile(Buffer.from("{}\n"), "x.jsonl"),
      purpose: "user_data",
      expires_after: { anchor: "created_at", seconds: 7200 },
    });
    expect(f.expires_at).toBe(f.created_at + 7200);
    await expect(
      h.client.files.create({
        file: await toFile(Buffer.from("{}\n"), "x.jsonl"),
        purpose: "nope" as "batch",
      }),
    ).rejects.toMatchObject({ status: 400, code: "invalid_value", param: "purpose" });
  });

  it("a file past its expires_at is gone (404, not listed); output_expires_after sets both result files' expiry", async () => {
    // an hour passes in 0.1 s
    h = await startHarness({ timeScale: 36_000, lineRules: [{ customIds: ["b"], error: "server_error" }] });
    const input = await h.client.files.create({
      file: await toFile(
        Buffer.from(
          `${[chatLine("a", "hi"), chatLine("b", "hi")].map((l) => JSON.stringify(l)).join("\n")}\n`,
        ),
        "in.jsonl",
      ),
      purpose: "batch",
    });
    expect(input.expires_at).toBe(input.created_at + 30 * 86400);
    const short = await h.client.files.create({
      file: await toFile(Buffer.from("{}\n"), "short.jsonl"),
      purpose: "user_data",
      expires_after: { anchor: "created_at", seconds: 3600 },
    });
    const params = {
      input_file_id: input.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    } as const;
    const created = await h.client.batches.create({
      ...params,
      output_expires_after: { anchor: "created_at", seconds: 3600 },
    });
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    for (const id of [batch.output_file_id!, batch.error_file_id!]) {
      const file = await h.client.files.retrieve(id);
      expect(file.purpose).toBe("batch_output");
      expect(file.expires_at).toBe(file.created_at + 3600);
    }
    const { batch: plain } = await waitForBatch(h.client, (await h.client.batches.create(params)).id);
    const kept = await h.client.files.retrieve(plain.output_file_id!);
    expect(kept.expires_at).toBe(kept.created_at + 30 * 86400);

    await new Promise((r) => setTimeout(r, 250));
    for (const id of [short.id, batch.output_file_id!, batch.error_file_id!]) {
      await expect(h.client.files.retrieve(id)).rejects.toMatchObject({
        status: 404,
        error: { message: `No such File object: ${id}`, type: "invalid_request_error" },
      });
      await expect(h.client.files.content(id)).rejects.toMatchObject({ status: 404 });
      await expect(h.client.files.delete(id)).rejects.toMatchObject({ status: 404 });
    }
    const listed = (await h.client.files.list()).data.map((f) => f.id);
    expect(listed.sort()).toEqual([input.id, plain.output_file_id!, plain.error_file_id!].sort());
  });

  it("rejects an expires_after whose anchor is not created_at, or that has no anchor, and keeps nothing", async () => {
    h = await startHarness();
    const form = (fields: Record<string, string>) => {
      const body = new FormData();
      body.set("purpose", "batch");
      for (const [k, v] of Object.entries(fields)) body.set(k, v);
      body.set("file", new Blob(["{}\n"]), "x.jsonl");
      return fetch(`${h.emu.url}/files`, { method: "POST", headers: { authorization: "Bearer x" }, body });
    };
    const bogus = await form({ "expires_after[anchor]": "bogus", "expires_after[seconds]": "3600" });
    expect(bogus.status).toBe(400);
    expect(await bogus.json()).toEqual({
      error: {
        message: "Invalid value: 'bogus'. Supported values are: 'created_at'.",
        type: "invalid_request_error",
        param: "expires_after.anchor",
        code: "invalid_value",
      },
    });
    const noAnchor = await form({ "expires_after[seconds]": "3600" });
    expect(noAnchor.status).toBe(400);
    expect(await noAnchor.json()).toMatchObject({
      error: { param: "expires_after.anchor", code: "missing_required_parameter" },
    });
    const noSeconds = await form({ "expires_after[anchor]": "created_at" });
    expect(noSeconds.status).toBe(400);
    expect(await noSeconds.json()).toMatchObject({
      error: { param: "expires_after.seconds", code: "missing_required_parameter" },
    });
    expect((await h.client.files.list()).data).toEqual([]);
    expect(fs.readdirSync(path.join(h.emu.dataDir, "tmp"))).toEqual([]);
  });

  it("lists with after/limit/order/purpose and first_id/last_id/has_more", async () => {
    h = await startHarness();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await h.client.files.create({
        file: await toFile(Buffer.from(`{"i":${i}}\n`), `f${i}.jsonl`),
        purpose: i === 4 ? "user_data" : "batch",
      });
      ids.push(f.id);
    }
    const page = await h.client.files.list({ limit: 2, purpose: "batch" });
    expect(page.data.map((f) => f.id)).toEqual([ids[3], ids[2]]);
    expect(page.has_more).toBe(true);
    const raw = await h.client.files.list({ limit: 2, purpose: "batch" }).asResponse();
    expect(await raw.json()).toMatchObject({
      object: "list",
      first_id: ids[3],
      last_id: ids[2],
      has_more: true,
    });
    const asc = await h.client.files.list({ order: "asc", after: ids[1] });
    expect(asc.data.map((f) => f.id)).toEqual([ids[2], ids[3], ids[4]]);
    expect(asc.has_more).toBe(false);
    const all: string[] = [];
    for await (const f of h.client.files.list({ limit: 1, purpose: "batch" })) all.push(f.id);
    expect(all).toEqual([ids[3], ids[2], ids[1], ids[0]]);
    await expect(h.client.files.list({ limit: 0 })).rejects.toMatchObject({ status: 400, param: "limit" });
  });

  it("rejects an upload over maxUploadBytes with 400 'File is too large.' and keeps nothing", async () => {
    h = await startHarness({ maxUploadBytes: 1024 });
    const file = writeJsonl(
      h.dir,
      "big.jsonl",
      Array.from({ length: 100 }, (_, i) => ({ i, pad: "x".repeat(50) })),
    );
    await expect(upload(h.client, file)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("File is too large."),
      type: "invalid_request_error",
    });
    expect(h.emu.state().files).toEqual([]);
    expect(fs.readdirSync(path.join(h.emu.dataDir, "tmp"))).toEqual([]);
    // the connection stays usable
    expect((await h.client.files.list()).data).toEqual([]);
  });
});

it("optional upload-time JSONL check rejects empty and garbage batch files", async () => {
  h = await startHarness({ uploadJsonlCheck: true });
  for (const content of ["", "\n\n", "not json\n{}\n", "[1]\n"]) {
    await expect(
      h.client.files.create({ file: await toFile(Buffer.from(content), "x.jsonl"), purpose: "batch" }),
    ).rejects.toMatchObject({
      status: 400,
      error: { message: "Invalid file format for Batch API. Must be .jsonl" },
    });
  }
  const ok = await h.client.files.create({
    file: await toFile(Buffer.from('\n{"a":1}\nxx\n'), "x.jsonl"),
    purpose: "batch",
  });
  expect(ok.bytes).toBe(12);
  // other purposes are not checked
  await h.client.files.create({ file: await toFile(Buffer.from("plain"), "x.txt"), purpose: "user_data" });
  expect(h.emu.state().files).toHaveLength(2);
});

describe("transport", () => {
  it("requires a bearer token, checks apiKey, sets x-request-id, 404s unknown routes", async () => {
    h = await startHarness({ apiKey: "sk-right" });
    const noKey = await fetch(`${h.emu.url}/batches`);
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await noKey.json()).error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_api_key",
    });
    await expect(h.client.batches.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    const good = new OpenAI({ baseURL: h.emu.url, apiKey: "sk-right", maxRetries: 0 });
    const res = await good.batches.list().withResponse();
    expect(res.response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const unknown = await fetch(`${h.emu.url}/nothing/here`, {
      headers: { authorization: "Bearer sk-right" },
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: {
        message: "Invalid URL (GET /v1/nothing/here)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
    // an id that is not valid percent-encoding names no file: 404, not a 500 the SDK retries
    const badId = await fetch(`${h.emu.url}/files/%E0%A4%A`, {
      headers: { authorization: "Bearer sk-right" },
    });
    expect(badId.status).toBe(404);
    expect((await badId.json()).error.message).toBe("No such File object: %E0%A4%A");
  });

  it("serves the introspection, config and reset endpoints", async () => {
    h = await startHarness();
    await h.client.files.create({ file: await toFile(Buffer.from("{}\n"), "a.jsonl"), purpose: "batch" });
    const state = await (await fetch(`${h.emu.baseUrl}/_emulator/state`)).json();
    expect(state.files).toHaveLength(1);
    expect(state.files[0]).toMatchObject({ purpose: "batch", bytes: 3, filename: "a.jsonl" });
    expect(state.calls).toEqual({ "POST /v1/files": 1 });
    expect(state.counters.token_limit_exceeded).toBe(0);
    const cfg = await fetch(`${h.emu.baseUrl}/_emulator/config`, {
      method: "POST",
      body: JSON.stringify({ queueLimits: { "gpt-4o": 5 } }),
    });
    expect(cfg.status).toBe(200);
    expect(h.emu.options.queueLimits).toEqual({ "gpt-4o": 5 });
    expect(h.emu.state().queues["gpt-4o"]).toEqual({ enqueued_tokens: 0, limit: 5, enqueued_requests: 0 });
    const typo = await fetch(`${h.emu.baseUrl}/_emulator/config`, {
      method: "POST",
      body: JSON.stringify({ queueLimit: { "gpt-4o": 5 } }),
    });
    expect(typo.status).toBe(400);
    expect((await typo.json()).error.message).toContain("unknown option 'queueLimit'");
    await expect(createEmulator({ latencies: { finalising: 1 } as never })).rejects.toThrow(
      /latencies.finalising/,
    );
    await fetch(`${h.emu.baseUrl}/_emulator/reset`, { method: "POST" });
    expect(h.emu.state().files).toEqual([]);
    expect(h.emu.state().calls).toEqual({});
  });
});

describe("aborted uploads", () => {
  it("leave no temp file behind and the server keeps serving", async () => {
    h = await startHarness();
    const { request } = await import("node:http");
    const url = new URL(`${h.emu.url}/files`);
    const boundary = "----emu";
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: {
        authorization: "Bearer x",
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(10 * 1024 * 1024),
      },
    });
    req.on("error", () => {});
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`);
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n`);
    req.write("x".repeat(256 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.readdirSync(path.join(h.emu.dataDir, "tmp"))).toEqual([]);
    expect(h.emu.state().files).toEqual([]);
    expect((await h.client.files.list()).data).toEqual([]);
  });
});
