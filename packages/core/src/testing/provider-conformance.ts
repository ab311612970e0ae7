import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  BatchRef,
  BatchSnapshot,
  JsonValue,
  ProviderConnection,
  ProviderPlugin,
  RequestLine,
  ResultItem,
  ShardSubmission,
  SubmissionTag,
} from "../plugin.js";
import { tagKey } from "../provider/contract.js";
import { optionChecks } from "./check-options.js";
import {
  type ConformanceCheck,
  createTestContext,
  type InvalidOptionsCase,
  withTempDir,
} from "./conformance.js";

export interface TestProviderOptions {
  /** raw (unparsed) options for the provider, or a promise of them; `dir` is the check's own temp folder */
  makeOptions(dir: string): unknown;
  /** the environment `open` gets (default: none) */
  env?: Record<string, string | undefined>;
  /** the requests of the test shard, one model and endpoint (default: six small chat requests) */
  requests?: readonly RequestLine[];
  /** between polls (default 100 ms) */
  pollIntervalMs?: number;
  /** how long a batch may take to end (default 30 s) */
  timeoutMs?: number;
  /**
   * false when the provider's batches end with its connection (an in-process emulator): the crash
   * check then asks the same connection instead of a new one. Default true.
   */
  durable?: boolean;
  /** how many batches the provider holds, when the test can see it: proves nothing is created twice */
  countBatches?(): number | Promise<number>;
  /** bad options and the path the schema must report for each */
  invalidOptions?: readonly InvalidOptionsCase[];
}

/**
 * The provider conformance suite: what the engine relies on (provider/contract.ts), checked with
 * real calls. Returns checks to register with a test runner; core itself does not depend on one.
 */
export function testProvider(plugin: ProviderPlugin, options: TestProviderOptions): ConformanceCheck[] {
  const label = `provider:${plugin.name}`;
  const check = (name: string, run: (p: ProviderFixture) => Promise<void>): ConformanceCheck => ({
    name: `${label}: ${name}`,
    run: () =>
      withTempDir(async (dir) => {
        const fixture = new ProviderFixture(plugin, options, dir, await options.makeOptions(dir));
        try {
          await run(fixture);
        } finally {
          await fixture.closeAll();
        }
      }),
  });

  return [
    ...optionChecks(label, plugin.options, (dir) => options.makeOptions(dir), options.invalidOptions),

    check("limits are sane", async (p) => {
      const limits = plugin.limits(p.parsed);
      assert.ok(Number.isInteger(limits.maxRequests) && limits.maxRequests > 0, "maxRequests > 0");
      assert.ok(Number.isInteger(limits.maxBytes) && limits.maxBytes > 0, "maxBytes > 0");
      assert.ok(
        limits.batchKey.every((k) => k === "model" || k === "endpoint") &&
          new Set(limits.batchKey).size === limits.batchKey.length,
        `batchKey holds "model" and/or "endpoint", each once: ${JSON.stringify(limits.batchKey)}`,
      );
      assert.ok(["tokens", "requests"].includes(limits.queue.counts), "queue.counts");
      assert.ok(["model", "account"].includes(limits.queue.per), "queue.per");
      const rate = limits.createsPerHour;
      assert.ok(rate === null || (Number.isInteger(rate) && rate > 0), "createsPerHour is null or > 0");
    }),

    check("encode gives one line per request, its own per id, and the shard's bytes add up", async (p) => {
      const limits = plugin.limits(p.parsed);
      const lines = new Set<string>();
      for (const request of p.requests) {
        const encoded = plugin.encode(request, p.parsed);
        assert.equal(typeof encoded.line, "string");
        assert.ok(encoded.line.length > 0, `${request.custom_id}: an empty line`);
        assert.ok(!/[\r\n]/.test(encoded.line), `${request.custom_id}: the line holds a line break`);
        assert.equal(plugin.encode(request, p.parsed).line, encoded.line, "encode is deterministic");
        assert.ok(Buffer.byteLength(encoded.line) + 1 <= limits.maxBytes, "one request fits maxBytes");
        if (typeof request.body.model === "string") assert.equal(encoded.model, request.body.model, "model");
        else assert.equal(typeof encoded.model, "string", "model");
        assert.equal(typeof encoded.json, "boolean", "json");
        lines.add(encoded.line);
        const renamed = plugin.encode({ ...request, custom_id: `${request.custom_id}-x` }, p.parsed);
        assert.notEqual(renamed.line, encoded.line, "another id gives another line");
      }
      assert.equal(lines.size, p.requests.length, "every request has a line of its own");
      const shard = await p.writeShard(p.tag());
      const expected = [...lines].reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
      assert.equal(shard.bytes, expected, "the shard's bytes are its lines' bytes, newlines included");
      assert.ok(shard.requests <= limits.maxRequests && shard.bytes <= limits.maxBytes, "the shard fits");
    }),

    check("a submitted shard ends and every request comes back exactly once", async (p) => {
      const connection = await p.open();
      const submitted = await p.submit(connection, await p.writeShard(p.tag()));
      const ended = await p.waitEnded(connection, submitted.batch);
      assert.equal(ended.ending, "completed", `the batch ended ${ended.ending} (${ended.status})`);
      assert.equal(ended.queueFull, null, "queueFull on a completed batch");
      const items = await p.results(connection, ended);
      p.expectEachOnce(items, "exactly");
      p.expectOutputs(items);
      await connection.cleanUp({ staged: submitted.staged, batch: roundTrip(ended) }, { signal: p.signal });
    }),

    check("after a crash, find() answers each submitted tag and nothing is created twice", async (p) => {
      const since = Date.now() - 60_000;
      const before = await options.countBatches?.();
      const first = await p.open();
      // A: created, but the "crashed" engine never recorded the answer
      const tagA = p.tag();
      const a = await p.submit(first, await p.writeShard(tagA));
      // B: the "crash" comes right after the provider staged something (if it stages at all)
      const tagB = p.tag();
      const shardB = await p.writeShard(tagB);
      const crash = new AbortController();
      let stagedB: JsonValue = null;
      await first
        .submit(shardB, {
          signal: crash.signal,
          staged: null,
          maybeStarted: false,
          since: Date.now() - 15 * 60_000,
          stage(data) {
            stagedB = roundTrip(data);
            crash.abort(new Error("crash after stage"));
          },
        })
        .catch(() => undefined);
      const never = p.tag();

      const resumed = options.durable === false ? first : await p.open();
      // the engine hands back what each submission staged (B's crash came right after it staged)
      const staged = new Map([
        [tagKey(tagA), a.staged],
        [tagKey(tagB), stagedB],
      ]);
      const found = await resumed.find([tagA, tagB, never], { since, signal: p.signal, staged });
      assert.equal(found.get(tagKey(tagA))?.id, a.batch.id, "find() answers the created batch by its tag");
      assert.ok(!found.has(tagKey(never)), "find() answers a tag that was never submitted");
      for (const snapshot of found.values()) p.expectSnapshot(snapshot);
      let b = found.get(tagKey(tagB));
      if (!b) {
        // never created: the engine submits it again with the same tag and what was staged
        // (the engine holds A's batch by now: find() answered it)
        const again = await p.submit(resumed, shardB, {
          staged: stagedB,
          maybeStarted: true,
          known: [a.batch.id],
        });
        b = again.batch;
        stagedB = again.staged;
        const refound = await resumed.find([tagB], {
          since,
          signal: p.signal,
          staged: new Map([[tagKey(tagB), stagedB]]),
          known: [a.batch.id],
        });
        assert.equal(refound.get(tagKey(tagB))?.id, b.id, "find() answers the resubmitted batch");
      }
      if (before !== undefined) {
        assert.equal((await options.countBatches?.()) ?? 0, before + 2, "two tags made two batches");
      }
      const endedB = await p.waitEnded(resumed, b);
      p.expectEachOnce(await p.results(resumed, endedB), "exactly");
      const endedA = await p.waitEnded(resumed, a.batch);
      await resumed.cleanUp({ staged: a.staged, batch: roundTrip(endedA) }, { signal: p.signal });
      await resumed.cleanUp({ staged: stagedB, batch: roundTrip(endedB) }, { signal: p.signal });
    }),

    check("cancel stops a running batch, or is harmless on an ended one", async (p) => {
      const connection = await p.open();
      const submitted = await p.submit(connection, await p.writeShard(p.tag()));
      await connection.cancel(roundTrip(submitted.batch), { signal: p.signal });
      const ended = await p.waitEnded(connection, submitted.batch);
      // what finished before the cancel still comes back; the rest may be absent
      p.expectEachOnce(await p.results(connection, ended), "at most");
      await connection.cancel(roundTrip(ended), { signal: p.signal });
    }),

    check("cleanUp is harmless twice, and with nothing to clean", async (p) => {
      const connection = await p.open();
      const submitted = await p.submit(connection, await p.writeShard(p.tag()));
      const ended = await p.waitEnded(connection, submitted.batch);
      const shard = { staged: submitted.staged, batch: roundTrip(ended) };
      await connection.cleanUp(shard, { signal: p.signal });
      await connection.cleanUp(shard, { signal: p.signal });
      await connection.cleanUp({ staged: null, batch: null }, { signal: p.signal });
    }),
  ];
}

// --- internal ---

const DEFAULT_REQUESTS: readonly RequestLine[] = Array.from({ length: 6 }, (_, i) => ({
  custom_id: `conformance-${i + 1}`,
  url: "/v1/chat/completions",
  body: {
    model: "gpt-4o-mini",
    max_tokens: 16,
    messages: [{ role: "user", content: `say "hi" ${i + 1}\nin one word — ünïcødé 🚀` }],
  },
}));

class ProviderFixture {
  readonly parsed: unknown;
  readonly requests: readonly RequestLine[];
  private readonly controller = new AbortController();
  private readonly connections: ProviderConnection[] = [];
  private readonly run = `run-${randomUUID().slice(0, 8)}`;
  private shards = 0;

  constructor(
    readonly plugin: ProviderPlugin,
    readonly options: TestProviderOptions,
    readonly dir: string,
    rawOptions: unknown,
  ) {
    this.parsed = plugin.options.parse(rawOptions);
    this.requests = options.requests ?? DEFAULT_REQUESTS;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async open(): Promise<ProviderConnection> {
    const context = createTestContext(this.dir, this.parsed, this.signal);
    const connection = await this.plugin.open({ ...context, env: this.options.env ?? {} });
    this.connections.push(connection);
    return connection;
  }

  async closeAll(): Promise<void> {
    this.controller.abort();
    for (const connection of this.connections) await connection.close();
  }

  tag(): SubmissionTag {
    return {
      pipeline: "conformance",
      run: this.run,
      shard: String(++this.shards).padStart(5, "0"),
      submission: 1,
    };
  }

  /** the shard file as the engine writes it: encoded lines, each ended by a newline */
  async writeShard(tag: SubmissionTag): Promise<ShardSubmission> {
    const encoded = this.requests.map((request) => this.plugin.encode(request, this.parsed));
    const text = encoded.map((e) => `${e.line}\n`).join("");
    const file = join(this.dir, `${tag.shard}-${tag.submission}.jsonl`);
    await writeFile(file, text);
    return {
      file,
      requests: encoded.length,
      bytes: Buffer.byteLength(text),
      model: encoded[0]?.model ?? "",
      endpoint: this.requests[0]?.url ?? "",
      completionWindow: "24h",
      tag,
    };
  }

  async submit(
    connection: ProviderConnection,
    shard: ShardSubmission,
    from: { staged: JsonValue; maybeStarted: boolean; known?: string[] } = {
      staged: null,
      maybeStarted: false,
    },
  ): Promise<{ batch: BatchSnapshot; staged: JsonValue }> {
    let staged = from.staged;
    const result = await connection.submit(shard, {
      signal: this.signal,
      staged: from.staged,
      maybeStarted: from.maybeStarted,
      known: from.known ?? [],
      since: Date.now() - 15 * 60_000,
      stage(data) {
        staged = roundTrip(data);
      },
    });
    assert.ok(!("queueFull" in result), `the queue refused the test shard: ${JSON.stringify(result)}`);
    this.expectSnapshot(result.batch);
    return { batch: result.batch, staged };
  }

  /** polls, with the ref as the engine stores it (JSON), until the batch ends */
  async waitEnded(connection: ProviderConnection, batch: BatchRef): Promise<BatchSnapshot> {
    const deadline = Date.now() + (this.options.timeoutMs ?? 30_000);
    const ref = roundTrip({ id: batch.id, data: batch.data });
    for (;;) {
      const snapshot = await connection.poll(ref, { signal: this.signal });
      assert.ok(snapshot, `batch ${batch.id} disappeared`);
      this.expectSnapshot(snapshot);
      assert.equal(snapshot.id, batch.id, "poll answers the batch asked for");
      if (snapshot.state === "ended") return snapshot;
      assert.ok(Date.now() < deadline, `batch ${batch.id} still ${snapshot.status} after the timeout`);
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs ?? 100));
    }
  }

  async results(connection: ProviderConnection, batch: BatchSnapshot): Promise<ResultItem[]> {
    const items: ResultItem[] = [];
    for await (const item of connection.results(roundTrip(batch), { signal: this.signal })) items.push(item);
    return items;
  }

  expectSnapshot(s: BatchSnapshot): void {
    assert.ok(typeof s.id === "string" && s.id !== "", "a batch has an id");
    assert.deepEqual(roundTrip(s.data), s.data, "BatchRef.data survives JSON");
    assert.ok(s.state === "running" || s.state === "ended", `state ${s.state}`);
    assert.equal(typeof s.status, "string", "status");
    if (s.state === "running") assert.equal(s.ending, null, "a running batch has no ending");
    else assert.ok(["completed", "expired", "cancelled", "failed"].includes(s.ending ?? ""), "ending");
    assert.ok(Array.isArray(s.errors), "errors");
    for (const e of s.errors) assert.ok(typeof e.code === "string" && typeof e.message === "string", "error");
    if (s.counts) for (const n of Object.values(s.counts)) assert.ok(Number.isInteger(n) && n >= 0, "counts");
    for (const t of [s.createdAt, s.expiresAt]) assert.ok(t === null || Number.isFinite(t), "times in ms");
  }

  /** output() turns each success's response into the row's output, synchronously, as collect does */
  expectOutputs(items: readonly ResultItem[]): void {
    for (const item of items) {
      if (item.kind !== "success") continue;
      const request =
        item.index === undefined
          ? this.requests.find((r) => r.custom_id === item.id)
          : this.requests[item.index];
      if (!request) continue;
      const { json } = this.plugin.encode(request, this.parsed);
      let out: unknown;
      try {
        out = this.plugin.output(item.response, { endpoint: request.url, json });
      } catch (error) {
        assert.fail(`output() threw for ${request.custom_id}: ${(error as Error)?.message ?? String(error)}`);
      }
      assert.ok(
        typeof (out as PromiseLike<unknown> | null)?.then !== "function",
        `output() returned a Promise for ${request.custom_id}: it must answer synchronously with { ok: true, output } or { ok: false, message } (a Promise has no ok: the engine fails every request as invalid_json_output)`,
      );
      const result = out as { ok?: unknown; message?: unknown } | null;
      assert.equal(typeof result?.ok, "boolean", `output() for ${request.custom_id}: { ok: boolean, … }`);
      if (result?.ok === false)
        assert.equal(typeof result.message, "string", `output() for ${request.custom_id}: a message`);
    }
  }

  expectEachOnce(items: readonly ResultItem[], how: "exactly" | "at most"): void {
    const unreadable = items.filter((i) => i.kind === "unreadable");
    assert.deepEqual(unreadable, [], "no unreadable results");
    // a result that names its line in the shard file answers the request on that line
    const ids = items.map((i) => {
      if (i.kind === "unreadable") return "";
      if (i.index === undefined) return i.id;
      assert.ok(Number.isInteger(i.index) && i.index >= 0, `index ${i.index} of ${i.id}`);
      return this.requests[i.index]?.custom_id ?? `line ${i.index}`;
    });
    assert.equal(new Set(ids).size, ids.length, "no id twice");
    const known = new Set(this.requests.map((r) => r.custom_id));
    for (const id of ids) assert.ok(known.has(id), `a result for an unknown id ${id}`);
    if (how === "exactly") assert.equal(ids.length, known.size, "a result for every request");
    for (const item of items) {
      if (item.kind === "success") {
        assert.ok(typeof item.response === "object" && item.response !== null, "a success has a response");
        assert.ok(item.usage === null || Number.isFinite(item.usage.total_tokens), "usage");
      } else if (item.kind === "failure") {
        assert.ok(typeof item.error.code === "string" && item.error.code !== "", "a failure has a code");
        assert.equal(typeof item.retryable, "boolean", "retryable");
      }
    }
  }
}

/** the engine stores refs and staged data as JSON */
function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
