// Core's hints carry notes for library users, "(from code: readDaemon(stateDir))", beside the
// command a CLI user runs. The CLI printed them too: `batchpipe run` beside a background run said
// "`batchpipe status` shows its progress (from code: readDaemon(stateDir), for a background run)".
// The CLI now leaves every such note out of what it prints (errors, their --json events, warnings,
// the hint `status` shows); a library caller still gets them. Every note in core has the one form
// the CLI drops whole, so none is left half-cut.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { withoutCodeNotes } from "../src/render-error.js";
import { batchpipe, ROOT, waitFor } from "./support/harness.js";
import { slowEmulatorPipeline, speedUp } from "./support/slow-emulator.js";

/** every line of core's sources that holds a "from code" note */
function coreNoteLines(): { file: string; line: string }[] {
  const found: { file: string; line: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith(".ts"))
        for (const line of fs.readFileSync(file, "utf8").split("\n"))
          if (line.includes("from code") && !/^\s*(\/\/|\*|\/\*)/.test(line)) found.push({ file, line });
    }
  };
  walk(path.join(ROOT, "packages/core/src"));
  return found;
}

describe("the CLI prints hints without their notes for library users", () => {
  it("every note in core's hints is one the CLI drops whole", () => {
    const lines = coreNoteLines();
    expect(lines.length).toBeGreaterThan(10);
    const left = lines.filter(({ line }) => withoutCodeNotes(line).includes("from code"));
    expect(left.map(({ file, line }) => `${path.relative(ROOT, file)}: ${line.trim()}`)).toEqual([]);
  });

  it("errors, their --json events and the warnings of `run`", async () => {
    const dir = slowEmulatorPipeline("code-notes", 3, "Say: {{ text }}");
    const started = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    await waitFor(
      async () =>
        (await batchpipe(["status", "pipeline.yaml"], { cwd: dir })).stdout.includes("  batch batch_"),
      30_000,
      "the batch submitted",
    );
    const locked = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(
      /\n {2}hint: Wait for it to finish, or stop it \(it saves its state\); `batchpipe status` shows its progress\.\n$/,
    );
    const json = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(json.events.at(-1)).toMatchObject({
      type: "error",
      hint: "Wait for it to finish, or stop it (it saves its state); `batchpipe status` shows its progress.",
    });
    const twice = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(
      "  hint: Follow it with `batchpipe logs <spec> -f` (its log is daemon.log in the state folder), or end it with `batchpipe stop <spec>`, which saves its state.\n",
    );
    const stop = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(stop.code, stop.stderr).toBe(0);

    // the prompt changed before the resume: the warning says what a cancel would do, for the CLI
    speedUp(dir);
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("Say: ", "Repeat: "));
    const resumed = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("let the run end (or `batchpipe cancel` it), then run again");
    for (const out of [locked, json, twice, stop, resumed])
      expect(out.stdout + out.stderr).not.toContain("from code");
  }, 90_000);
});
