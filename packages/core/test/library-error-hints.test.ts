// Errors a library caller (BatchRunner, runSpec) meets must say what to do from code too: a hint
// that names only a CLI flag (`--force`, `--state-dir`) or command (`batchpipe cancel`) leaves an
// app, which has options instead, with nothing to do.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchpipeError, BatchRunner, type WorkConfig } from "../src/index.js";

function runner(workConfig: WorkConfig) {
  return class Runner extends BatchRunner {
    static override workConfig = workConfig;
    static override *upload() {
      yield { id: "1", messages: [{ role: "user", content: "hi" }] };
    }
  };
}

it("a damaged state.db: the hint names force: true beside --force", async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, ".batchpipe/damaged"), { recursive: true });
  fs.writeFileSync(
    path.join(dir, ".batchpipe/damaged/state.db"),
    "not a database, written over\n".repeat(200),
  );
  const Runner = runner({ name: "damaged", model: "gpt-4o-mini", provider: { use: "emulator" } });
  const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  expect(error.code).toBe("STATE_FAILED");
  expect(error.hint).toMatchInlineSnapshot(
    `"It was cut short or written over (a full disk, a copy taken while a run wrote it). Restore the state folder from a backup. Without one, move the file aside and run again: batches this pipeline has at the provider then stop the run with STATE_LOST, and \`--force\` (from code: force: true) sends again what the result cache does not answer."`,
  );
});

it("a state folder that cannot be made: the hint names workConfig.state_dir beside --state-dir", async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "a-file"), "");
  const Runner = runner({
    name: "nowhere",
    model: "gpt-4o-mini",
    provider: { use: "emulator" },
    state_dir: "a-file/state",
  });
  const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  expect(error.code).toBe("STATE_FAILED");
  expect(error.message).toMatch(/^cannot create the state folder .*a-file\/state: ENOTDIR/);
  expect(error.hint).toMatchInlineSnapshot(
    `"Check the path and its permissions and free space, or move the state elsewhere with --state-dir (from code: the stateDir option, workConfig.state_dir)."`,
  );
});
