// A provider that cannot be trusted (issue 13 items 1–5): answers that are not the API's, a provider
// that cannot be reached, results that cannot be read, batches that never end and runaway result
// lines. Each ends in a bounded time with every record once, and nothing is paid for twice.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Emulator, EmulatorOptions } from "@batchpipe/openai-emulator";
import { afterEach, describe, expect, it } from "vitest";
import { env as anthropicEnv, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type ChildOptions,
  type EmulatorProcess,
  idCounts,
  type PipelineOptions,
  readJsonl,
  records,
  report,
  startBatchpipe,
  startEmulator,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

interface Row {
  id: string;
  status: string;
  attempts: number;
  error?: { code: string; message: string };
}

/** fast provider-side retries: the tests are about what happens after them */
const FAST_RETRIES = ["retry_attempts: 2", "retry_min_delay_ms: 10", "retry_max_delay_ms: 50"];

let emu: Emulator | undefined;
let emuProcess: EmulatorProcess | undefined;
afterEach(async () => {
  await emu?.close();
  await emuProcess?.close();
  emu = undefined;
  emuProcess = undefined;
});

function setUp(baseUrl: string, n: number, o: Partial<PipelineOptions> = {}) {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(n));
  const spec = writePipeline(dir, { baseUrl, ...o, provider: [...FAST_RETRIES, ...(o.provider ?? [])] });
  return { dir, spec };
}

async function runWith(
  options: EmulatorOptions,
  n: number,
  o: Partial<PipelineOptions> = {},
  child: ChildOptions = {},
) {
  emu = await startEmulator(options);
  const { dir, spec } = setUp(emu.url, n, o);
  const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000, ...child });
  return {
    dir,
    run,
    results: readJsonl<Row>(path.join(dir, "out/results.jsonl")),
    errors: readJsonl<Row>(path.join(dir, "out/errors.jsonl")),
    warnings: run.events.filter((e) => e.type === "warning").map((e) => String(e.message)),
  };
}

function expectEachOnce(rows: Row[], n: number) {
  const counts = idCounts(rows);
  expect(counts.size).toBe(n);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
}

/** a loopback port nothing listens on */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("answers that are not the API's (item 1)", () => {
  it("an HTML page, an empty body and JSON without an id are failed calls, retried; one batch, every record once", async () => {
    const { run, results, errors } = await runWith(
      {
        faults: [
          { route: "POST /v1/files", calls: [1], body: "<html><body>Proxy login</body></html>" },
          // the batch is created, but the answer is a captive portal's page: found again, not created twice
          {
            route: "POST /v1/batches",
            calls: [1],
            kind: "drop",
            body: "<html>Please sign in</html>",
          },
          { route: "GET /v1/batches/:id", calls: [1], body: "" },
          {
            route: "GET /v1/batches/:id",
            calls: [2],
            body: '{"ok":true}',
            contentType: "application/json",
          },
        ],
      },
      5,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expectEachOnce(results, 5);
    expect(errors).toEqual([]);
    const state = emu!.state();
    expect(state.batches).toHaveLength(1);
    expect(state.batches[0]!.input_file_id).not.toBe("");
    expect(report(run)).toMatchObject({ succeeded: 5, failed: 0, batches: 1 });
  });

  it("creates answered 500 again and again: each warning names the submission that failed, not a check", async () => {
    const { run, results, warnings } = await runWith(
      { faults: [{ route: "POST /v1/batches", calls: [1, 2, 3, 4, 5, 6, 7, 8, 9] }] },
      3,
      { batch: { poll_interval: "50ms" } },
    );
    expect(run.code, run.stderr).toBe(0);
    expectEachOnce(results, 3);
    // the engine's own warnings (the provider's "retrying in N ms" aside)
    const engine = warnings.filter((w) => w.startsWith("could not"));
    expect(engine.length).toBeGreaterThan(1);
    for (const warning of engine) expect(warning).toMatch(/^could not submit shard 00001\b.*POST \/batches/);
  });

  it("request counts past the batch's size (completed + failed > total) are clamped where they enter: progress never runs negative", async () => {
    emu = await startEmulator({ timeScale: 1, latencies: { linesPerSecond: 2 } });
    const { dir, spec } = setUp(emu.url, 4, { batch: { poll_interval: "50ms" } });
    const child = startBatchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      id = emu.state().batches[0]?.id;
      await new Promise((r) => setTimeout(r, 25));
    }
    const real = (await (
      await fetch(`${emu.url}/batches/${id}`, { headers: { authorization: "Bearer x" } })
    ).json()) as Record<string, unknown>;
    const wrong = { ...real, status: "in_progress", request_counts: { total: 5, completed: 3, failed: 99 } };
    emu.configure({
      faults: [
        {
          route: "GET /v1/batches/:id",
          body: JSON.stringify(wrong),
          contentType: "application/json",
          status: 200,
        },
      ],
    });
    for (
      let i = 0;
      i < 200 &&
      !child.events.some(
        (e) => e.type === "batch_status" && (e.counts as { completed: number }).completed === 3,
      );
      i++
    )
      await new Promise((r) => setTimeout(r, 25));
    emu.configure({ faults: [] });
    const run = await child.done;
    expect(run.code, run.stderr).toBe(0);
    const statuses = run.events.filter((e) => e.type === "batch_status");
    // the wrong answer (3 completed, 99 failed of 5) as it entered: within the 4 requests sent
    expect(statuses.map((e) => e.counts)).toContainEqual({ total: 4, completed: 3, failed: 1 });
    for (const { counts } of statuses as unknown as {
      counts: { total: number; completed: number; failed: number };
    }[])
      expect(counts.completed + counts.failed).toBeLessThanOrEqual(counts.total);
    for (const e of run.events.filter((e) => e.type === "progress")) {
      const s = e.snapshot as {
        submitted: number;
        finished: number;
        inFlight: { total: number; completed: number; failed: number };
      };
      expect(s.finished).toBeLessThanOrEqual(s.submitted);
      expect(s.inFlight.completed + s.inFlight.failed).toBeLessThanOrEqual(4);
    }
  });

  it("a result file answered with an HTML page is not read as results: the download is retried", async () => {
    const { run, results } = await runWith(
      { faults: [{ route: "GET /v1/files/:id/content", calls: [1], body: "<html>502 Bad Gateway</html>" }] },
      4,
    );
    expect(run.code, run.stderr).toBe(0);
    expectEachOnce(results, 4);
    expect(report(run)).toMatchObject({ succeeded: 4, unexpected: 0, batches: 1 });
  });
});

describe("a provider that cannot be reached (item 2)", () => {
  it("connection refused before anything was submitted: exit 1 within a minute, naming the base URL", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/v1`;
    const { dir, spec } = setUp(url, 3);
    const started = Date.now();
    const run = await batchpipe(["run", spec], { cwd: dir, timeoutMs: 90_000 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(url);
    expect(run.stderr).toMatch(/PROVIDER_UNREACHABLE/);
    expect(run.stderr).toMatch(/base_url/);

    // a name that does not resolve (.invalid never does)
    const dnsUrl = "http://batchpipe-test.invalid/v1";
    const dns = setUp(dnsUrl, 3);
    const dnsRun = await batchpipe(["run", dns.spec], { cwd: dns.dir, timeoutMs: 90_000 });
    expect(dnsRun.code).toBe(1);
    expect(dnsRun.stderr).toContain(dnsUrl);
    expect(dnsRun.stderr).toMatch(/PROVIDER_UNREACHABLE/);
  });

  it("a server that accepts connections and never answers, before anything was submitted: PROVIDER_UNREACHABLE after 3 timeouts, naming the base URL", async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`;
      // the default retry_attempts (8); each call times out after 300 ms
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(3));
      const spec = writePipeline(dir, {
        baseUrl: url,
        provider: ["retry_min_delay_ms: 10", "retry_max_delay_ms: 50", "timeout_ms: 300"],
      });
      const run = await batchpipe(["run", spec], { cwd: dir, timeoutMs: 60_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /failed after 3 attempts: .*timed out.*\(provider at http:\/\/127\.0\.0\.1:\d+\/v1\) \(PROVIDER_UNREACHABLE\)/,
      );
      expect(run.stderr).toContain("raise provider.timeout_ms");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("the anthropic provider too: connection refused ends the run with PROVIDER_UNREACHABLE after 3 attempts, naming the base URL", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const dir = tempDir();
    writeAnthropicPipeline(dir, { name: "anth-unreachable", baseUrl: url, n: 3 });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: anthropicEnv, timeoutMs: 90_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(url);
    expect(run.stderr).toMatch(/PROVIDER_UNREACHABLE/);
    expect(run.stderr).toMatch(/after 3 attempts/);
    expect(run.stderr).toMatch(/ANTHROPIC_BASE_URL/);
  });

  it("TLS to a server that speaks plain HTTP, and a refused API key (401): exit 1 at once, naming the base URL", async () => {
    emu = await startEmulator({ apiKey: "sk-right" });
    const tlsUrl = emu.url.replace("http://", "https://");
    const tls = setUp(tlsUrl, 2);
    const tlsRun = await batchpipe(["run", tls.spec], { cwd: tls.dir, timeoutMs: 90_000 });
    expect(tlsRun.code).toBe(1);
    expect(tlsRun.stderr).toContain(tlsUrl);
    expect(tlsRun.stderr).toMatch(/PROVIDER_UNREACHABLE/);

    const auth = setUp(emu.url, 2);
    const authRun = await batchpipe(["run", auth.spec], {
      cwd: auth.dir,
      env: { OPENAI_API_KEY: "sk-wrong-key-123456" },
      timeoutMs: 90_000,
    });
    expect(authRun.code).toBe(1);
    expect(authRun.stderr).toContain(emu.url);
    expect(authRun.stderr).toMatch(/401/);
    expect(authRun.stderr).toMatch(/API key/);
    expect(authRun.stderr).not.toContain("sk-wrong-key-123456");
    expect(emu.state().batches).toEqual([]);
  });

  it("an outage after submission: retried up to batch.max_outage, then exit 1 with the state saved; a rerun resumes without paying again", async () => {
    emuProcess = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 2, validation: 0.05 },
    });
    const { dir, spec } = setUp(emuProcess.url, 4, { batch: { max_outage: "3s" } });
    const child = startBatchpipe(["run", spec, "--json"], {
      cwd: dir,
      timeoutMs: 60_000,
      onEvent: (event) => {
        if (event.type === "shard_submitted")
          void emuProcess!.configure({ faults: [{ route: "*", kind: "reset" }] });
      },
    });
    const first = await child.done;
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/max_outage/);
    expect(first.stderr).toContain(emuProcess.url);
    expect(first.events.some((e) => e.type === "warning")).toBe(true);

    await emuProcess.configure({ faults: [], latencies: { linesPerSecond: 1000 } });
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(readJsonl<Row>(path.join(dir, "out/results.jsonl")), 4);
    expect((await emuProcess.state()).batches).toHaveLength(1);
  });
});

describe("an outage counted from its first failing call", () => {
  afterEach(async () => {
    await emuProcess?.close();
    emuProcess = undefined;
  });

  // a poll's own tries and timeouts took minutes before the outage clock started, so max_outage
  // was only checked after a second round of them (3 min 14 s for a max_outage of 10 s)
  it("batch.max_outage counts the time of the first failing poll: the run stops after one round of its tries", async () => {
    emuProcess = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 1, validation: 0.05 },
    });
    const { dir, spec } = setUp(emuProcess.url, 4, {
      batch: { max_outage: "1s" },
      provider: ["timeout_ms: 600"],
    });
    const child = startBatchpipe(["run", spec, "--json"], {
      cwd: dir,
      timeoutMs: 60_000,
      onEvent: (event) => {
        // every poll from now on answers after the client gave up on it
        if (event.type === "shard_submitted")
          void emuProcess!.configure({
            faults: [{ route: "GET /v1/batches/:id", kind: "delay", delayMs: 5000 }],
          });
      },
    });
    const first = await child.done;
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/longer than batch\.max_outage \(1 s\)/);
    // one round is retry_attempts (2) polls; before, two rounds ran before the run stopped
    expect((await emuProcess.state()).counters.faults_injected).toBeLessThanOrEqual(3);
  });
});

describe("results that cannot be read (item 3)", () => {
  it("an output file answering 404 once is read on the next try; three times in a row, its requests get a new attempt", async () => {
    // a passing glitch: nothing is paid for twice
    const once = await runWith(
      { faults: [{ route: "GET /v1/files/:id/content", calls: [1], status: 404 }] },
      4,
    );
    expect(once.run.code, once.run.stderr).toBe(0);
    expectEachOnce(once.results, 4);
    expect(once.results.every((r) => r.attempts === 1)).toBe(true);
    expect(report(once.run)).toMatchObject({ succeeded: 4, batches: 1 });
    await emu?.close();

    const gone = await runWith(
      { faults: [{ route: "GET /v1/files/:id/content", calls: [1, 2, 3], status: 404 }] },
      4,
    );
    expect(gone.run.code, gone.run.stderr).toBe(0);
    expectEachOnce(gone.results, 4);
    expect(gone.results.every((r) => r.attempts === 2)).toBe(true);
    expect(gone.warnings.some((w) => /could not be read/.test(w))).toBe(true);
    expect(report(gone.run)).toMatchObject({ succeeded: 4, retried: 4, batches: 2 });
  });

  it("result files that are always gone: the requests fail as results_unavailable after max_attempts (no endless retry)", async () => {
    const { run, results, errors } = await runWith(
      { faults: [{ route: "GET /v1/files/:id/content", status: 404 }] },
      3,
      { batch: { max_attempts: 2 } },
    );
    expect(run.code, run.stderr).toBe(3);
    expect(results).toEqual([]);
    expect(errors.map((e) => [e.id, e.error!.code, e.attempts]).sort()).toEqual([
      ["r1", "results_unavailable", 2],
      ["r2", "results_unavailable", 2],
      ["r3", "results_unavailable", 2],
    ]);
  });
});

describe("a batch that never ends (item 4)", () => {
  /** a line every 100 s: the batch never expires and never finishes cancelling within the test */
  const STUCK: EmulatorOptions = {
    timeScale: 1,
    latencies: { linesPerSecond: 0.01, expiryLag: 1e6, cancelDrain: 1e6, validation: 0.05 },
  };
  const DEADLINE = { engine: { batchDeadlineMs: 1500, stuckGraceMs: 1500 } };

  it("past its local deadline it is cancelled once; still running, its requests fail as batch_stuck", async () => {
    const { run, results, errors, warnings } = await runWith(
      STUCK,
      3,
      { batch: { max_attempts: 1 } },
      DEADLINE,
    );
    expect(run.code, run.stderr).toBe(3);
    expect(results).toEqual([]);
    expect(errors.map((e) => [e.id, e.error!.code]).sort()).toEqual([
      ["r1", "batch_stuck"],
      ["r2", "batch_stuck"],
      ["r3", "batch_stuck"],
    ]);
    expect(emu!.state().calls["POST /v1/batches/:id/cancel"]).toBe(1);
    expect(warnings.some((w) => /deadline/.test(w))).toBe(true);
  });

  it("without expires_at too; a failed cancel is reported; the stuck requests succeed on their next attempt", async () => {
    emu = await startEmulator({
      ...STUCK,
      omitExpiresAt: true,
      faults: [{ route: "POST /v1/batches/:id/cancel", status: 500 }],
    });
    const { dir, spec } = setUp(emu.url, 3);
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      timeoutMs: 60_000,
      ...DEADLINE,
      onEvent: (event) => {
        // the second attempt runs on a healthy provider
        if (event.type === "shard_collected")
          emu!.configure({ latencies: { linesPerSecond: 1000, cancelDrain: 0.1 }, faults: [] });
      },
    });
    expect(run.code, run.stderr).toBe(0);
    const results = readJsonl<Row>(path.join(dir, "out/results.jsonl"));
    expectEachOnce(results, 3);
    expect(results.every((r) => r.attempts === 2)).toBe(true);
    const cancelWarning = run.events.find(
      (e) => e.type === "warning" && /could not cancel/.test(String(e.message)),
    );
    expect(cancelWarning).toMatchObject({ code: "PROVIDER_FAILED" });
  });
});

describe("runaway result lines (item 5)", () => {
  it("a line over the maximum length is counted as unexpected and skipped, its request retried", async () => {
    const { run, results } = await runWith(
      { lineRules: [{ customIds: ["r2"], oddity: "long_line", lineBytes: 8 * 1024 * 1024, attempts: 1 }] },
      3,
      { provider: ["max_line_bytes: 1048576"] },
    );
    expect(run.code, run.stderr).toBe(0);
    expectEachOnce(results, 3);
    expect(report(run)).toMatchObject({ succeeded: 3, unexpected: 1, missing: 1, retried: 1 });
  });
});
