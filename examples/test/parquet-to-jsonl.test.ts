import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import {
  batchpipe,
  expectEachOnce,
  ROOT,
  readJsonl,
  tempDir,
} from "../../packages/batchpipe/test/support/harness.js";

it("parquet-to-jsonl runs offline with the built-in emulator: 40 products, each once, nested values in the prompt", async () => {
  const dir = tempDir("bp-parquet-example-");
  for (const file of ["pipeline.yaml", "products.parquet"]) {
    fs.copyFileSync(path.join(ROOT, "examples/parquet-to-jsonl", file), path.join(dir, file));
  }
  const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: "" } });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/completed: every request succeeded/);
  expect(run.stdout).toMatch(/succeeded +40/);

  const out = path.join(dir, "out/descriptions.jsonl");
  expectEachOnce(out, 40);
  const rows = readJsonl<{ id: string; output: string; input: Record<string, unknown> }>(out);
  const sku2 = rows.find((row) => row.id === "sku-002")!;
  // the emulator echoes the prompt: the nested struct, the struct inside it and the list were rendered
  expect(sku2.output).toBe("white desk lamp in white, 37 x 51 x 25 cm; features: recycled materials, USB-C.");
  // `columns` left price out
  expect(Object.keys(sku2.input)).toEqual(["sku", "name", "specs"]);
});
