// `batchpipe plan` reads the dataset into a temp folder under TMPDIR. When it cannot make one there,
// its error said either "this is a bug in batchpipe" (TMPDIR a file: ENOTDIR) or, for a folder it
// cannot write (EACCES), the run's hint "…run the same command again: the run resumes where it
// stopped" (plan starts no run, and the state folder is not the problem). It now names the temp
// folder and says what to do: point TMPDIR at a writable folder and run plan again. Real CLI in a
// child process; as root, the read-only case runs as `nobody`, whom file permissions stop.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, records, tempDir, writePipeline } from "./support/harness.js";

const USER = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
const HINT =
  "hint: plan reads the dataset into a temp folder under TMPDIR and removes it at its end (it writes no state): point TMPDIR at a folder you can write with room for the shards (e.g. TMPDIR=/var/tmp), or free space there, and run plan again.";

function pipeline(): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
  // plan only reads: nothing listens at the base URL
  writePipeline(dir, { baseUrl: "http://127.0.0.1:9/v1" });
  return dir;
}

describe("batchpipe plan with a TMPDIR it cannot write", () => {
  it("TMPDIR a folder the user cannot write: SYSTEM, with what to do for plan", async () => {
    const dir = pipeline();
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(tmp, { mode: 0o555 });
    if (USER.uid !== undefined) {
      // the user owns the pipeline's folder, not its TMPDIR
      execFileSync("chown", ["-R", `${USER.uid}:${USER.gid}`, dir]);
      execFileSync("chown", ["root:root", tmp]);
      fs.chmodSync(dir, 0o755);
    }
    const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir, env: { TMPDIR: tmp }, ...USER });
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(
      "✖ plan could not write its temp folder in tmp: permission denied (EACCES)",
    );
    expect(plan.stderr).toContain(HINT);
    expect(plan.stderr).not.toContain("resumes");
    const json = await batchpipe(["plan", "pipeline.yaml", "--json"], {
      cwd: dir,
      env: { TMPDIR: tmp },
      ...USER,
    });
    expect(JSON.parse(json.stdout.trim().split("\n").at(-1)!)).toMatchObject({
      type: "error",
      code: "SYSTEM",
      errno: "EACCES",
    });
  });

  it("TMPDIR a file: not 'a bug in batchpipe'", async () => {
    const dir = pipeline();
    fs.writeFileSync(path.join(dir, "not-a-folder"), "");
    const plan = await batchpipe(["plan", "pipeline.yaml"], {
      cwd: dir,
      env: { TMPDIR: path.join(dir, "not-a-folder") },
    });
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain("✖ plan could not write its temp folder in not-a-folder: ENOTDIR");
    expect(plan.stderr).toContain(HINT);
    expect(plan.stderr).not.toContain("bug");
  });
});
