// `batchpipe init [folder]` where the folder cannot be one (a file is there) says so plainly, and a
// folder whose name YAML would read as a number or a boolean still gets a pipeline that runs.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, CLI_BIN, tempDir } from "./support/harness.js";

describe("init in odd folders", () => {
  it("a file where the folder would go is a usage error that names it, not a bug", async () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, "data.jsonl"), '{"id":1}\n');
    const init = await batchpipe(["init", "data.jsonl"], { cwd: root });
    expect(init.code).toBe(2);
    expect(init.stderr).not.toContain("unexpected error");
    expect(init.stderr).toContain("✖ data.jsonl is a file, not a folder (USAGE)");
    expect(init.stderr).toContain("hint: Name a new or existing folder, e.g. `batchpipe init my-pipeline`.");
    // nothing written, the file left as it was
    expect(fs.readFileSync(path.join(root, "data.jsonl"), "utf8")).toBe('{"id":1}\n');
    // a file on the way to the folder too
    const deeper = await batchpipe(["init", "data.jsonl/sub"], { cwd: root });
    expect(deeper.code).toBe(2);
    expect(deeper.stderr).toContain("✖ data.jsonl is a file, not a folder (USAGE)");
  });

  it("a folder named like a number or a boolean (2024, true) gets a pipeline whose name is a string", async () => {
    const root = tempDir();
    for (const folder of ["2024", "true", "1e3", "null"]) {
      const init = await batchpipe(["init", folder], { cwd: root });
      expect(init.code).toBe(0);
      const validate = await batchpipe(["validate", path.join(folder, "pipeline.yaml")], { cwd: root });
      expect(validate.stderr, folder).not.toContain("expected a string");
      expect(validate.code, folder).toBe(0);
    }
    expect(fs.readFileSync(path.join(root, "2024", "pipeline.yaml"), "utf8")).toContain('name: "2024" #');
  });

  it("the next steps it prints work when pasted into a shell, in a folder whose name has a space", async () => {
    const root = tempDir();
    const init = await batchpipe(["init", "my reviews"], { cwd: root, env: { npm_command: undefined } });
    expect(init.code).toBe(0);
    const plan = init.stdout.split("\n").find((line) => line.trim().startsWith("batchpipe plan "));
    expect(plan).toBeDefined();
    // the line as a user pastes it, with the comment; `batchpipe` is this checkout's bin
    const out = execFileSync("sh", ["-c", plan!.trim().replace(/^batchpipe /, `node '${CLI_BIN}' `)], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(out).toContain("plan for my-reviews: 5 records");
  });

  it("its way to run for real drops the emulator's 200ms poll_interval, which would poll a real provider every 0.2-2 s", async () => {
    const root = tempDir();
    const init = await batchpipe(["init"], { cwd: root });
    expect(init.stdout).toContain(
      "then, to run it for real: replace `provider` with `{ use: openai }`, delete the line `poll_interval: 200ms` (the default polls every 30s) and set OPENAI_API_KEY.",
    );
    expect(fs.readFileSync(path.join(root, "pipeline.yaml"), "utf8")).toContain("  poll_interval: 200ms #");
  });

  it("its next steps start the CLI the way it was started: npx, pnpm exec, or batchpipe on the PATH", async () => {
    const next = async (env: Record<string, string | undefined>) => {
      const init = await batchpipe(["init"], { cwd: tempDir(), env });
      return init.stdout
        .split("\n")
        .filter((line) => line.includes("pipeline.yaml   #") || line.includes("pipeline.yaml    #"));
    };
    const npx = await next({
      npm_command: "exec",
      npm_config_user_agent: "npm/11.19.1 node/v20.20.2 linux x64",
    });
    expect(npx[0]).toMatch(/^ {2}npx batchpipe plan pipeline\.yaml {3}#/);
    expect(npx[1]).toMatch(/^ {2}npx batchpipe run pipeline\.yaml {4}#/);
    const pnpm = await next({
      npm_command: "exec",
      npm_config_user_agent: "pnpm/10.34.9 npm/? node/v20.20.2",
    });
    expect(pnpm[0]).toMatch(/^ {2}pnpm exec batchpipe plan pipeline\.yaml/);
    const onPath = await next({ npm_command: undefined, npm_config_user_agent: undefined });
    expect(onPath[0]).toMatch(/^ {2}batchpipe plan pipeline\.yaml/);
  });
});
