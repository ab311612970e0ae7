// `batchpipe try` through the real CLI: a few records rendered and sent through the live API (the
// emulator over HTTP), each request printed with its answer, tokens and cost at live prices, and
// nothing written: no state folder, no sink, no batch or file at the provider.
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  CLI_BIN,
  childEnv,
  ROOT,
  records,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

/** every file under `dir` with its size and mtime */
function listing(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      const st = fs.statSync(file);
      return `${path.relative(dir, file)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

describe("batchpipe try", () => {
  it("try -n 3 on the quickstart prints 3 answers and changes no file", async () => {
    const dir = tempDir();
    fs.cpSync(path.join(ROOT, "examples/quickstart"), dir, { recursive: true });
    fs.rmSync(path.join(dir, "out"), { recursive: true, force: true });
    fs.rmSync(path.join(dir, ".batchpipe"), { recursive: true, force: true });
    const before = listing(dir);
    const run = await batchpipe(["try", "pipeline.yaml", "-n", "3"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.match(/^answer {3}✔ \d+ ms · \d+ in \/ \d+ out tokens · \$0\.\d{6}$/gm)).toHaveLength(
      3,
    );
    expect(run.stdout.match(/^request {2}POST \/v1\/chat\/completions$/gm)).toHaveLength(3);
    for (const id of ["review-001", "review-002", "review-003"])
      expect(run.stdout).toContain(`── ${id} (data.jsonl:`);
    expect(run.stdout).toContain('{"sentiment":');
    expect(run.stdout).toMatch(
      /3 records tried: 3 answered, 0 failed · \d+ in \/ \d+ out tokens · \$0\.\d{6} at live prices/,
    );
    expect(listing(dir)).toEqual(before);
  });

  it("--ids sends the named records through the provider's live API only: no file, no batch, no state", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(10));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "try-ids", maxTokens: 5 });
    const calls = () => emu.state().calls;
    const before = { ...calls() };
    const run = await batchpipe(["try", spec, "--ids", "r7,r2", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const items = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // in source order
    expect(items.map((i) => i.id)).toEqual(["r2", "r7"]);
    expect(items[0]).toMatchObject({
      sent: true,
      request: {
        custom_id: "r2",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", max_tokens: 5 },
      },
      result: { kind: "success", usage: { input_tokens: expect.any(Number) } },
      output: { ok: true },
    });
    // gpt-4o-mini at live prices: $0.15 / $0.60 per 1M tokens
    const u = items[0].result.usage;
    expect(items[0].cost).toBeCloseTo((u.input_tokens * 0.15 + u.output_tokens * 0.6) / 1e6, 12);
    const after = calls();
    expect((after["POST /v1/chat/completions"] ?? 0) - (before["POST /v1/chat/completions"] ?? 0)).toBe(2);
    expect(after["POST /v1/files"] ?? 0).toBe(before["POST /v1/files"] ?? 0);
    expect(after["POST /v1/batches"] ?? 0).toBe(before["POST /v1/batches"] ?? 0);
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });

  it("a record whose template fails is shown as not sent; an id no record has is a warning; exit 3", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      `${JSON.stringify({ id: "a", text: "fine" })}\n${JSON.stringify({ id: "b" })}\n`,
    );
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "try-fail" });
    const run = await batchpipe(["try", spec, "-n", "2"], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/── b \(data\.jsonl:2\) ─+\nnot sent: .*text.* \(template_error\)/);
    expect(run.stdout).toContain("2 records tried: 1 answered, 1 failed");
    const missing = await batchpipe(["try", spec, "--ids", "zzz,a"], { cwd: dir });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("⚠ no record has the id zzz");
    // the id not found was not tried: it said "2 records tried: 1 answered, 1 failed"
    expect(missing.stdout).toContain("1 record tried: 1 answered, 0 failed, 1 id not found");
  });

  it("a provider without a live API is refused (USAGE, exit 2), named once", async () => {
    const dir = tempDir();
    fs.cpSync(path.join(ROOT, "examples/writing-plugins"), dir, { recursive: true });
    const run = await batchpipe(["try", "echo.yaml", "-n", "1"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "✖ the provider (echo) has no live API, so records cannot be tried one by one (USAGE)",
    );
  });

  it("a provider that cannot be reached, or refuses the key, is PROVIDER_UNREACHABLE (exit 1, as for run), not failed requests (exit 3)", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(2));
    const closed = writePipeline(dir, { baseUrl: `http://127.0.0.1:${port}/v1`, name: "try-closed" });
    const run = await batchpipe(["try", closed, "-n", "2"], { cwd: dir });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /no answer from the provider for the first record tried \(r1\): .*127\.0\.0\.1.*\(PROVIDER_UNREACHABLE\)/,
    );
    expect(run.stderr).toContain("Check provider.base_url");

    const keyed = await startEmulator({ apiKey: "sk-right" });
    try {
      const spec = writePipeline(dir, { baseUrl: keyed.url, name: "try-key" });
      const refused = await batchpipe(["try", spec, "-n", "2"], {
        cwd: dir,
        env: { OPENAI_API_KEY: "sk-wrong-1234" },
      });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(
        /the provider refused the API key \(HTTP 401\) .*\(PROVIDER_UNREACHABLE\)/,
      );
      expect(refused.stderr).not.toContain("sk-wrong-1234");
    } finally {
      await keyed.close();
    }
  });

  it("a reader that stops early (| head) ends it quietly", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "try-pipe" });
    const { stdout, stderr } = await promisify(execFile)(
      "sh",
      ["-c", `node "${CLI_BIN}" try "${spec}" -n 5 | head -1`],
      { cwd: dir, env: childEnv() },
    );
    expect(stdout).toMatch(/^── r1 /);
    expect(stderr).toBe("");
  });
});
