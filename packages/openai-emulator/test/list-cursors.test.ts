import { toFile } from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { type AnthropicHarness, request, startAnthropic, waitEnded } from "./anthropic-helpers.js";
import { chatLine, type Harness, startHarness, upload, writeJsonl } from "./helpers.js";

let h: Harness | undefined;
let a: AnthropicHarness | undefined;
afterEach(async () => {
  await h?.close();
  await a?.close();
  h = undefined;
  a = undefined;
});

// A list cursor names a place in the list. An id the server never issued ends the list (an empty
// last page), it never starts it again from the top; a deleted object keeps its place.
describe("list cursors", () => {
  it("GET /v1/batches after an unknown id is an empty last page", async () => {
    h = await startHarness();
    const file = await upload(h.client, writeJsonl(h.dir, "in.jsonl", [chatLine("a", "hi")]));
    for (let i = 0; i < 3; i++) {
      await h.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      });
    }
    const page = await h.client.batches.list({ limit: 2, after: "batch_000000000000000000000000" });
    expect(page.data).toEqual([]);
    expect(page.has_more).toBe(false);
    const seen: string[] = [];
    for await (const b of h.client.batches.list({ limit: 1, after: "batch_unknown" })) seen.push(b.id);
    expect(seen).toEqual([]);
  });

  it("GET /v1/files pages on after a deleted or filtered-out file, and ends after an unknown one", async () => {
    h = await startHarness();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const f = await h.client.files.create({
        file: await toFile(Buffer.from(`{"i":${i}}\n`), `f${i}.jsonl`),
        purpose: i === 3 ? "user_data" : "batch",
      });
      ids.push(f.id);
    }
    const unknown = await h.client.files.list({ after: "file-unknown" });
    expect(unknown.data).toEqual([]);
    expect(unknown.has_more).toBe(false);
    // after a file of another purpose: the batch files older than it
    const filtered = await h.client.files.list({ purpose: "batch", after: ids[3] });
    expect(filtered.data.map((f) => f.id)).toEqual([ids[2], ids[1], ids[0]]);
    const ascending = await h.client.files.list({ purpose: "batch", order: "asc", after: ids[3] });
    expect(ascending.data.map((f) => f.id)).toEqual([ids[4], ids[5], ids[6]]);
    // deleting each file as it is listed: every page follows a cursor that is gone
    const deleted: string[] = [];
    for await (const f of h.client.files.list({ limit: 2, purpose: "batch" })) {
      await h.client.files.delete(f.id);
      deleted.push(f.id);
    }
    expect(deleted).toEqual([ids[6], ids[5], ids[4], ids[2], ids[1], ids[0]]);
    expect(h.emu.state().calls["GET /v1/files"]).toBe(3 + 3);
  });

  it("Anthropic: after_id / before_id of a deleted batch page on from its place; an empty one is none, an unknown one ends the list", async () => {
    a = await startAnthropic();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await a.client.messages.batches.create({ requests: [request(`r${i}`, "x")] })).id);
    }
    for (const id of ids) await waitEnded(a.client, id);
    const deleted: string[] = [];
    for await (const b of a.client.messages.batches.list({ limit: 2 })) {
      await a.client.messages.batches.delete(b.id);
      deleted.push(b.id);
    }
    expect(deleted).toEqual([...ids].reverse());
    const more: string[] = [];
    for (let i = 0; i < 2; i++) {
      more.push((await a.client.messages.batches.create({ requests: [request(`s${i}`, "x")] })).id);
    }
    const newer = await a.client.messages.batches.list({ before_id: ids[4] });
    expect(newer.data.map((b) => b.id)).toEqual([...more].reverse());
    // an empty cursor (a hand-written client's first page) is no cursor: the newest batches
    for (const cursor of ["after_id", "before_id"]) {
      const res = await fetch(`${a.emu.baseUrl}/v1/messages/batches?${cursor}=`, {
        headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" },
      });
      const body = (await res.json()) as { data: { id: string }[] };
      expect(body.data.map((b) => b.id)).toEqual([...more].reverse());
    }
    for (const query of [{ after_id: "msgbatch_unknown" }, { before_id: "msgbatch_unknown" }]) {
      const page = await a.client.messages.batches.list(query);
      expect(page.data).toEqual([]);
      expect(page.has_more).toBe(false);
    }
  });
});
