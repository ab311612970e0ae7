// A glob source reads no dot file: `run` and `plan` list it with tinyglobby (dot: false), so
// `./in/*.jsonl` leaves out `._a.jsonl` (the AppleDouble file macOS writes beside a copied file) and
// `.x/`. `batchpipe watch` compiled the same glob itself with `*` matching any name: it took
// `._a.jsonl` too, and `watch --once` over a folder `run` reads cleanly ended partial (exit 3,
// "in/._a.jsonl: 0 succeeded, 1 failed", an invalid_input row of binary junk in the errors sink).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, startWatcher, tempDir } from "./support/harness.js";

describe("batchpipe watch over a glob", () => {
  it("takes the files `run` reads: no dot file, no file in a dot folder", async () => {
    const dir = tempDir("bp-watch-dot-");
    fs.mkdirSync(path.join(dir, "in", "sub", ".cache"), { recursive: true });
    fs.mkdirSync(path.join(dir, "in", ".git"), { recursive: true });
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: watch-dot",
        "provider: { use: emulator, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./in/**/*.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
        "",
      ].join("\n"),
    );
    const line = (id: string) => `${JSON.stringify({ id, text: id })}\n`;
    fs.writeFileSync(path.join(dir, "in", "a.jsonl"), line("a1"));
    fs.writeFileSync(path.join(dir, "in", "sub", "b.jsonl"), line("b1"));
    fs.writeFileSync(path.join(dir, "in", "._a.jsonl"), Buffer.from([0, 5, 22, 7, 0, 2, 0, 0, 77, 97, 99]));
    fs.writeFileSync(path.join(dir, "in", ".hidden.jsonl"), line("h1"));
    fs.writeFileSync(path.join(dir, "in", ".git", "c.jsonl"), line("g1"));
    fs.writeFileSync(path.join(dir, "in", "sub", ".cache", "d.jsonl"), line("d1"));

    const plan = await batchpipe(["plan", "pipeline.yaml", "--json"], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.stdout).totals.read).toBe(2);

    const w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    const group = w.events.find((e) => e.type === "group_started") as { files: string[] };
    expect(group.files.map((f) => path.relative(dir, f)).sort()).toEqual(["in/a.jsonl", "in/sub/b.jsonl"]);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 2, succeeded: 2, failed: 0 });
    expect(
      readJsonl<{ id: string }>(path.join(dir, "out", "results.jsonl"))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["a1", "b1"]);
    expect(readJsonl(path.join(dir, "out", "errors.jsonl"))).toEqual([]);

    // named on purpose, a dot file is taken (as tinyglobby reads `.*.jsonl`)
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("./in/**/*.jsonl", "./in/.h*.jsonl"));
    const named = await batchpipe(["plan", "pipeline.yaml", "--json"], { cwd: dir });
    expect(JSON.parse(named.stdout).totals.read).toBe(1);
  });
});
