// Routing: every request of an ended batch ends as exactly one success row, one failure row or one
// line of a retry shard. In-process specification tests: a shard on disk, a provider connection
// that streams scripted results (the public contract), rows collected from `write`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeShardMeta } from "../src/engine/codecs/shard-meta.js";
import { type CollectOptions, collectShard } from "../src/engine/collect.js";
import type { BatchSnapshot, ProviderConnection, ResultItem, ResultRow } from "../src/plugin.js";
import type { FanoutRow, ShardRow } from "../src/state/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function setup(ids: string[], o: { json?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-routing-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "s.jsonl"), ids.map((id) => `{"custom_id":"${id}","body":{}}\n`).join(""));
  fs.writeFileSync(
    path.join(dir, "s.meta.jsonl"),
    ids
      .map((id, i) =>
        encodeShardMeta({
          id,
          inputTokens: 10 + i,
          outputTokens: 5,
          rootIndex: i,
          requestDigest: [i + 1, 0, 0],
          jsonOutput: o.json ?? false,
          input: JSON.stringify({ n: i }),
          source: { file: "/data.jsonl", line: i + 1 },
        }),
      )
      .map((line) => `${line}\n`)
      .join(""),
  );
  const shard: ShardRow = {
    runId: "r1",
    name: "00001",
    seq: 1,
    root: "00001",
    attempt: 1,
    model: "gpt-4o-mini",
    endpoint: "/v1/chat/completions",
    file: "s.jsonl",
    metaFile: "s.meta.jsonl",
    requests: ids.length,
    bytes: 0,
    tokens: 0,
    outputTokens: 0,
    status: "ended",
    submission: 1,
    staged: null,
    batchId: "batch_1",
    batchStatus: "completed",
    createdAt: 0,
    batch: null,
  };
  return { dir, shard };
}

function ended(over: Partial<BatchSnapshot> = {}): BatchSnapshot {
  return {
    id: "batch_1",
    data: null,
    state: "ended",
    status: "completed",
    ending: "completed",
    queueFull: null,
    counts: null,
    errors: [],
    createdAt: 0,
    expiresAt: null,
    ...over,
  };
}

function provider(items: ResultItem[]): ProviderConnection {
  const unused = () => {
    throw new Error("not used by collection");
  };
  return {
    async *results() {
      yield* items;
    },
    submit: unused,
    find: unused,
    poll: unused,
    cancel: unused,
    cleanUp: unused,
    close: async () => {},
  };
}

const ok = (id: string, text = "fine"): ResultItem => ({
  kind: "success",
  id,
  response: { text },
  usage: { input_tokens: 100, output_tokens: 10, total_tokens: 110 },
  model: "gpt-4o-mini-2024-07-18",
});
const failed = (id: string, code: string, retryable: boolean): ResultItem => ({
  kind: "failure",
  id,
  error: { code, message: `${code}!`, status_code: retryable ? 500 : 400 },
  retryable,
});

async function collect(
  ids: string[],
  items: ResultItem[],
  over: Partial<CollectOptions> & { json?: boolean; unsent?: boolean } = {},
) {
  const { dir, shard } = setup(ids, { json: over.json });
  // a shard the run was cancelled before submitting has no batch id
  if (over.unsent) shard.batchId = null;
  const rows: ResultRow[] = [];
  const parts: number[] = [];
  const batch = over.batch === undefined ? ended() : over.batch;
  const result = await collectShard({
    provider: provider(items),
    output: (response, request) => {
      const text = String(response.text);
      if (!request.json) return { ok: true, output: text };
      try {
        return { ok: true, output: JSON.parse(text) };
      } catch {
        return { ok: false, message: "not JSON" };
      }
    },
    maxAttempts: 3,
    stateDir: dir,
    shard: { ...shard, batch },
    batch,
    fanout: [],
    noRetry: false,
    sinks: { write: async (row) => void rows.push(row) },
    signal: new AbortController().signal,
    partSize: 5000,
    routedDone: 0,
    commitPart: async (end) => void parts.push(end),
    ...over,
  });
  return { rows, result, dir, parts };
}

describe("routing the results of an ended batch", () => {
  it("a success becomes a row with the output, usage, model, attempts, input and source; cost is counted", async () => {
    const { rows, result } = await collect(["a"], [ok("a")]);
    expect(rows).toEqual([
      {
        id: "a",
        status: "success",
        output: "fine",
        response: { text: "fine" },
        usage: { input_tokens: 100, output_tokens: 10, total_tokens: 110 },
        model: "gpt-4o-mini-2024-07-18",
        batch_id: "batch_1",
        attempts: 1,
        input: { n: 0 },
        source: { file: "/data.jsonl", line: 1 },
      },
    ]);
    expect(result.counters).toMatchObject({ succeeded: 1, inputTokens: 100, outputTokens: 10 });
    expect(result.counters.cost).toBeGreaterThan(0);
    expect(result.retryShard).toBeNull();
  });

  it("identical requests sent once are answered for every record that asked", async () => {
    const fanout: FanoutRow[] = [
      { canonical: "0", recordId: "a2", input: '{"n":9}', source: '{"file":"/data.jsonl","line":9}' },
    ];
    const { rows } = await collect(["a"], [ok("a")], { fanout });
    expect(rows.map((r) => [r.id, r.input, r.source.line])).toEqual([
      ["a", { n: 0 }, 1],
      ["a2", { n: 9 }, 9],
    ]);
  });

  it("a retryable failure goes to a retry shard with its request and meta lines; a final one to the errors", async () => {
    const { rows, result, dir } = await collect(
      ["a", "b", "c"],
      [failed("a", "server_error", true), failed("b", "invalid_request", false), ok("c")],
    );
    // failures are held until the results end (a later success for their id would win)
    expect(rows.map((r) => [r.id, r.status, r.status === "failed" ? r.error.code : null])).toEqual([
      ["c", "success", null],
      ["b", "failed", "invalid_request"],
    ]);
    expect(result.counters).toMatchObject({
      retried: 1,
      failed: 1,
      succeeded: 1,
      failedByCode: { invalid_request: 1 },
    });
    const retry = result.retryShard!;
    expect(retry).toMatchObject({ name: "00001-a2", attempt: 2, requests: 1, tokens: 10, status: "pending" });
    expect(fs.readFileSync(path.join(dir, retry.file), "utf8")).toBe('{"custom_id":"a","body":{}}\n');
    expect(fs.readFileSync(path.join(dir, retry.metaFile), "utf8")).toContain('"id":"a"');
  });

  it("nothing is retried past max_attempts, nor while the run is cancelled", async () => {
    const last = await collect(["a"], [failed("a", "server_error", true)], { maxAttempts: 1 });
    expect(last.rows.map((r) => r.status)).toEqual(["failed"]);
    expect(last.result.retryShard).toBeNull();
    const cancelled = await collect(["a"], [failed("a", "server_error", true)], { noRetry: true });
    expect(cancelled.rows.map((r) => r.status)).toEqual(["failed"]);
  });

  it("an output that should be JSON and is not fails as invalid_json_output, not retried", async () => {
    const { rows, result } = await collect(["a", "b"], [ok("a", "{oops"), ok("b", '{"x":1}')], {
      json: true,
    });
    expect(rows.map((r) => (r.status === "failed" ? r.error.code : r.output))).toEqual([
      "invalid_json_output",
      { x: 1 },
    ]);
    expect(result.retryShard).toBeNull();
  });

  it("unknown ids, repeated ids and unreadable results are counted as unexpected and deliver nothing", async () => {
    const { rows, result } = await collect(
      ["a"],
      [ok("a"), ok("a", "again"), ok("zzz"), { kind: "unreadable", reason: "not JSON" }],
    );
    expect(rows.map((r) => r.id)).toEqual(["a"]);
    expect(result.counters.unexpected).toBe(3);
  });

  it("requests without a result take the batch's ending: expired and cancelled are retried", async () => {
    for (const [ending, code] of [
      ["expired", "batch_expired"],
      ["cancelled", "batch_cancelled"],
    ] as const) {
      const { result } = await collect(["a", "b"], [ok("a")], { batch: ended({ ending, status: ending }) });
      expect(result.counters).toMatchObject({ missing: 1, retried: 1 });
      expect(result.retryShard?.requests).toBe(1);
      const final = await collect(["a", "b"], [ok("a")], { batch: ended({ ending }), maxAttempts: 1 });
      expect(final.rows.find((r) => r.id === "b")).toMatchObject({ error: { code } });
    }
  });

  // a run cancelled while reading reported its unsent requests as "missing lines 181,250"
  it("a shard cancelled before it was sent: its requests fail as batch_cancelled and are not missing lines", async () => {
    const { rows, result } = await collect(["a", "b"], [], {
      unsent: true,
      noRetry: true,
      batch: ended({ id: "", status: "cancelled", ending: "cancelled" }),
    });
    expect(rows.map((r) => (r.status === "failed" ? r.error.code : ""))).toEqual([
      "batch_cancelled",
      "batch_cancelled",
    ]);
    expect(result.counters).toMatchObject({ missing: 0, unexpected: 0 });
  });

  it("a batch error about a line fails that request for good; a vanished batch retries everything", async () => {
    const lineError = { code: "invalid_json_line", message: "line 2 is not JSON", line: 2 };
    const { rows } = await collect(["a", "b"], [ok("a")], {
      batch: ended({ ending: "failed", errors: [lineError] }),
    });
    expect(rows.find((r) => r.id === "b")).toMatchObject({ error: { code: "invalid_json_line" } });
    const vanished = await collect(["a", "b"], [], { batch: null, maxAttempts: 1 });
    expect(vanished.rows.map((r) => (r.status === "failed" ? r.error.code : ""))).toEqual([
      "batch_missing",
      "batch_missing",
    ]);
  });

  it("delivers in parts; parts committed before a crash are re-derived without writing again", async () => {
    const ids = ["a", "b", "c", "d", "e"];
    const items = [
      ok("a"),
      failed("b", "server_error", true),
      ok("c"),
      ok("d"),
      failed("e", "server_error", true),
    ];
    const fresh = await collect(ids, items, { partSize: 2 });
    expect(fresh.parts).toEqual([2, 4]);
    expect(fresh.rows.map((r) => r.id)).toEqual(["a", "c", "d"]);
    const resumed = await collect(ids, items, { partSize: 2, routedDone: 4 });
    expect(resumed.parts).toEqual([]);
    expect(resumed.rows).toEqual([]);
    // the retry shard is the same whether or not the parts were delivered in this process
    expect(resumed.result.retryShard?.requests).toBe(2);
  });

  it("a delivery resumed with another part size goes on after the last request committed", async () => {
    const ids = ["a", "b", "c", "d", "e", "f", "g"];
    const items = ids.map((id) => ok(id));
    // 3 requests were committed in parts of 3; this run delivers in parts of 2 (then 5000)
    const smaller = await collect(ids, items, { partSize: 2, routedDone: 3 });
    // the last part (5 to 7) is the delivery's own commit, not a part's
    expect(smaller.parts).toEqual([5]);
    expect(smaller.rows.map((r) => r.id)).toEqual(["d", "e", "f", "g"]);
    const larger = await collect(ids, items, { routedDone: 3 });
    expect(larger.parts).toEqual([]);
    expect(larger.rows.map((r) => r.id)).toEqual(["d", "e", "f", "g"]);
  });
});

describe("errors from a provider loaded with its own copy of core", () => {
  it("a transient PROVIDER_FAILED from another copy's BatchpipeError is retried, not fatal", async () => {
    const { fatalProviderError } = await import("../src/engine/loop-context.js");
    // what `new BatchpipeError(...)` of another copy of @batchpipe/core looks like from here
    const foreign = Object.assign(new Error("HTTP 503"), {
      name: "BatchpipeError",
      code: "PROVIDER_FAILED",
      status: 503,
    });
    expect(fatalProviderError(foreign)).toBe(false);
    expect(fatalProviderError(Object.assign(foreign, { status: 401 }))).toBe(true);
    expect(fatalProviderError(new Error("a bug"))).toBe(true);
  });
});
