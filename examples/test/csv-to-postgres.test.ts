import fs from "node:fs";
import path from "node:path";
import { beforeAll, expect, it } from "vitest";
import { batchpipe, ROOT, tempDir } from "../../packages/batchpipe/test/support/harness.js";
import { sharedPostgres } from "../../packages/sink-postgres/test/support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

it("csv-to-postgres runs offline with the built-in emulator into a real PostgreSQL: 24 reviews, each once, run twice", async () => {
  const url = await server.createDatabase("reviews");
  const dir = tempDir("bp-csv-pg-example-");
  for (const file of ["pipeline.yaml", "reviews.csv"]) {
    fs.copyFileSync(path.join(ROOT, "examples/csv-to-postgres", file), path.join(dir, file));
  }
  const env = { OPENAI_API_KEY: "", DATABASE_URL: url };
  const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/succeeded +24/);

  const rows: { id: string; status: string; output: string; input: Record<string, unknown> }[] =
    await server.query("SELECT id, status, output, input FROM review_sentiment ORDER BY id", [], "reviews");
  expect(rows.map((row) => row.id)).toEqual(
    Array.from({ length: 24 }, (_, i) => `rev-${String(i + 1).padStart(3, "0")}`),
  );
  const five = rows.find((row) => row.id === "rev-005")!;
  // quoted CSV fields (a comma, a newline) arrive whole; the emulator echoes the prompt
  expect(five.output).toBe("1-star review of a keyboard: Arrived late,\nbut works fine.");
  expect(five.input).toEqual({
    review_id: "rev-005",
    product: "keyboard",
    stars: 1,
    text: "Arrived late,\nbut works fine.",
  });
  expect(await server.query("SELECT count(*)::int AS n FROM review_errors", [], "reviews")).toEqual([
    { n: 0 },
  ]);

  // the same data again (a new run, answered from the result cache): still one row per review, upserted by id
  const again = await batchpipe(["run", "pipeline.yaml", "--force"], { cwd: dir, env });
  expect(again.code, again.stderr).toBe(0);
  expect(await server.query("SELECT count(*)::int AS n FROM review_sentiment", [], "reviews")).toEqual([
    { n: 24 },
  ]);
});
