// A TypeScript app compiled with the strictest options (exactOptionalPropertyTypes, as in
// @tsconfig/strictest) must be able to call Runner.run(), and to pass options it may not have.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ROOT, runNode, tempDir } from "../../batchpipe/test/support/harness.js";

it("Runner.run() and runSpec() type-check under exactOptionalPropertyTypes", async () => {
  const dir = tempDir("bp-runner-types-exact-");
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  const core = path.join(ROOT, "packages/core/dist/index.js");
  fs.writeFileSync(
    path.join(dir, "runner.ts"),
    `import { BatchRunner, type BatchOutputItem, runSpec } from ${JSON.stringify(core)};
class Runner extends BatchRunner {
  static override workConfig = { name: "strictest", model: "gpt-4o-mini" };
  static override async *upload() { yield { id: "1", messages: [{ role: "user", content: "hi" }] }; }
  static override async download(items: AsyncIterable<BatchOutputItem>) { for await (const i of items) void i.id; }
}
// a job handler's options: each may be absent
export async function job(o: { dir?: string; signal?: AbortSignal; force?: boolean }) {
  const result = await Runner.run({ dir: o.dir, signal: o.signal, force: o.force, onEvent: undefined });
  const spec = await runSpec({}, { dir: o.dir, signal: o.signal, force: o.force, onEvent: undefined, plugins: undefined });
  return result.report.succeeded + spec.report.succeeded;
}
`,
  );
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  const result = await runNode(
    [
      tsc,
      "--noEmit",
      "--strict",
      "--exactOptionalPropertyTypes",
      "--noImplicitOverride",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2022",
      "--skipLibCheck",
      "runner.ts",
    ],
    { cwd: dir },
  );
  expect(result.stdout + result.stderr).toMatchInlineSnapshot(`""`);
  expect(result.code).toBe(0);
}, 90_000);
