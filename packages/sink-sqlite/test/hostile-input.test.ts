// sink-sqlite against hostile input: table names are validated identifiers (never spliced in as
// given), values are bound parameters, and a hostile record (SQL in text and ids, multi-MB strings,
// deep nesting, NUL characters, odd Unicode) is stored intact: read back, it equals what was written.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FailureRow, SuccessRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import sink from "../src/index.js";

const INJECTION = `x'); DROP TABLE results; --`;

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: "bottom\u0000" };
  for (let i = 0; i < depth; i++) value = { [`level${i}`]: value, list: [i, null, "\u0000"] };
  return value;
}

describe("sink-sqlite hardening", () => {
  it("rejects table names that are not plain identifiers", () => {
    for (const table of [
      "results; DROP TABLE x",
      'res"ults',
      "1results",
      "a b",
      "résultats",
      "results--",
      "",
      `${"x".repeat(10)}\u0000`,
    ]) {
      const parsed = sink.options.safeParse({ path: "./out.db", table });
      expect(parsed.success, table).toBe(false);
    }
    expect(sink.options.safeParse({ path: "./out.db", table: "_Results_2" }).success).toBe(true);
  });

  it("stores a hostile record intact and leaves other tables alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-hard-"));
    const file = join(dir, "out.db");
    // a table the injection would drop if values were spliced into SQL
    const pre = new Database(file);
    pre.exec("CREATE TABLE keep (v TEXT); INSERT INTO keep VALUES ('still here')");
    pre.close();

    const huge = `${"🙂 ".repeat(500_000)}${INJECTION}`; // ~3 MB of UTF-8
    const input = {
      id: INJECTION,
      text: `Robert'); DROP TABLE results;--\n"quoted" \\ backslash \u0000 NUL \u202e RTL \ufeff BOM`,
      huge,
      deep: nested(500),
      numbers: [0, -0.5, 1e308, Number.MAX_SAFE_INTEGER],
    };
    const rows: (SuccessRow | FailureRow)[] = [
      {
        id: INJECTION,
        status: "success",
        output: { answer: "'; DELETE FROM keep; --", nul: "\u0000\u0000", deep: nested(200) },
        response: { body: huge },
        usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
        model: "gpt-4o-mini'--",
        batch_id: "batch_'\"",
        attempts: 1,
        input,
        source: { file: `/data/${INJECTION}.jsonl`, line: 1 },
      },
      {
        id: "nul\u0000id",
        status: "success",
        output: "plain text with \u0000 inside and ' quotes",
        response: {},
        usage: null,
        model: null,
        batch_id: null,
        attempts: 1,
        input: { id: "nul\u0000id" },
        source: { file: "/data/in.jsonl", line: 2 },
      },
      {
        id: "failed'",
        status: "failed",
        error: { code: "invalid_input", message: `bad line: ${INJECTION}\u0000`, status_code: null },
        attempts: 0,
        batch_id: null,
        input: null,
        source: { file: "/data/in.jsonl", line: 3 },
      },
    ];

    const handle = await sink.open({
      ...createTestContext(dir, sink.options.parse({ path: "./out.db", table: "results", columns: "all" })),
      checkpoint: undefined,
    });
    await handle.write(rows);
    await handle.commit(`key ${INJECTION}`);
    expect(await handle.committed!(`key ${INJECTION}`)).toBe(true);
    await handle.close();

    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare("SELECT v FROM keep").pluck().all()).toEqual(["still here"]);
      const byId = (id: string) =>
        db.prepare("SELECT * FROM results WHERE id = ?").get(id) as Record<string, string>;
      expect(db.prepare("SELECT count(*) FROM results").pluck().get()).toBe(3);

      const first = byId(INJECTION);
      expect(JSON.parse(first.input!)).toEqual(input);
      expect(JSON.parse(first.output!)).toEqual(rows[0]!.status === "success" ? rows[0]!.output : null);
      expect(JSON.parse(first.response!)).toEqual({ body: huge });
      expect(first.model).toBe("gpt-4o-mini'--");
      expect(first.batch_id).toBe("batch_'\"");
      expect(first.source_file).toBe(`/data/${INJECTION}.jsonl`);

      const second = byId("nul\u0000id");
      expect(second.id).toBe("nul\u0000id");
      expect(second.output).toBe("plain text with \u0000 inside and ' quotes");

      const failed = byId("failed'");
      expect(JSON.parse(failed.error!)).toEqual({
        code: "invalid_input",
        message: `bad line: ${INJECTION}\u0000`,
        status_code: null,
      });
    } finally {
      db.close();
    }
  });

  // a lone surrogate was stored as the bytes ED A0 80, which are not UTF-8: Python's sqlite3 (and
  // pandas over it) failed on the row with "Could not decode to UTF-8"
  it("stores a lone surrogate as U+FFFD, so the text is UTF-8 any reader can decode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-surrogate-"));
    const handle = await sink.open({
      ...createTestContext(dir, sink.options.parse({ path: "./out.db", table: "results" })),
      checkpoint: undefined,
    });
    await handle.write([
      {
        id: "r1",
        status: "success",
        output: "half \ud800 a pair, and \ud83d\ude42 a whole one",
        response: {},
        usage: null,
        model: "gpt-4o-mini",
        batch_id: null,
        attempts: 1,
        input: { text: "\udc00" },
        source: { file: "/data/in.jsonl", line: 1 },
      },
    ]);
    await handle.commit("k1");
    await handle.close();
    const db = new Database(join(dir, "out.db"), { readonly: true });
    try {
      const row = db.prepare("SELECT hex(output) AS output FROM results WHERE id = 'r1'").get() as {
        output: string;
      };
      const utf8 = Buffer.from(row.output, "hex");
      expect(new TextDecoder("utf-8", { fatal: true }).decode(utf8)).toBe(
        "half \ufffd a pair, and 🙂 a whole one",
      );
    } finally {
      db.close();
    }
  });
});
