// A CommonJS app (require(), which loads ES modules without top-level await on Node >= 20.19, the
// engines floor) can use the programmatic API of `batchpipe` and of `@batchpipe/core`.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ROOT, runNode, tempDir } from "./support/harness.js";

it("require('batchpipe') runs a BatchRunner against the built-in emulator", async () => {
  const dir = tempDir("bp-cjs-");
  const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
  const core = path.join(ROOT, "packages/core/dist/index.js");
  fs.writeFileSync(
    path.join(dir, "app.cjs"),
    `const { BatchRunner } = require(${JSON.stringify(batchpipe)});
const { BatchpipeError } = require(${JSON.stringify(core)});
class Runner extends BatchRunner {}
Runner.workConfig = {
  name: "commonjs",
  model: "gpt-4o-mini",
  provider: { use: "emulator", emulator: { timeScale: 3600 } },
  batch: { poll_interval: "50ms" },
};
Runner.upload = function* () {
  for (let i = 1; i <= 5; i++) yield { id: i, messages: [{ role: "user", content: "hi " + i }] };
};
const ids = [];
Runner.download = async (items) => { for await (const item of items) ids.push(item.id); };
Runner.run({ dir: __dirname }).then(
  (r) => console.log(r.status, r.report.succeeded, ids.sort().join(","), typeof BatchpipeError),
  (e) => { console.log("failed:", e.code, e.message); process.exitCode = 1; },
);
`,
  );
  const result = await runNode([path.join(dir, "app.cjs")], { cwd: dir });
  expect({ code: result.code, out: result.stdout.trim(), err: result.stderr.split("\n")[0] ?? "" }).toEqual({
    code: 0,
    out: "completed 5 1,2,3,4,5 function",
    err: "",
  });
}, 60_000);
