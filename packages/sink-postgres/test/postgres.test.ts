// sink-postgres against a real PostgreSQL server: the table it creates (column types), upsert by id,
// an existing table (its own columns and types), hostile values, and the errors it reports.
import type { FailureRow, ResultRow, SuccessRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import sink from "../src/index.js";
import { POSTGRES_PASSWORD, sharedPostgres } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let url: string;
const DB = `sink_${process.pid}`;
beforeAll(async () => {
  server = await sharedPostgres();
  url = await server.createDatabase(DB);
});

const query = <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  server.query(sql, params, DB) as Promise<R[]>;

function open(options: Record<string, unknown>, checkpoint?: number) {
  return sink.open({
    ...createTestContext("/tmp", sink.options.parse({ url, ...options })),
    checkpoint,
  });
}

function success(id: string, output: unknown, extra: Partial<SuccessRow> = {}): SuccessRow {
  return {
    id,
    status: "success",
    output,
    response: { id: `resp-${id}`, choices: [{ message: { content: String(output) } }] },
    usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
    model: "gpt-4o-mini",
    batch_id: "batch_1",
    attempts: 1,
    input: { id, text: `text of ${id}` },
    source: { file: "/data/in.jsonl", line: Number(id.replace(/\D/g, "")) || 1 },
    ...extra,
  };
}

function failure(id: string): FailureRow {
  return {
    id,
    status: "failed",
    error: { code: "context_length_exceeded", message: "too long", status_code: 400 },
    attempts: 2,
    batch_id: "batch_1",
    input: { id },
    source: { file: "/data/in.jsonl", line: 9 },
  };
}

describe("sink-postgres", () => {
  it("creates the table with typed columns (JSON as jsonb) and upserts by id: the last write wins, created_at stays", async () => {
    const first = await open({ table: "typed", columns: "all" });
    await first.write([
      success("r1", "positive"),
      success("r2", { label: "neg", score: 0.2 }),
      failure("r3"),
    ]);
    const seq1 = await first.commit("k1");
    await first.close();

    const types = await query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_name = 'typed' ORDER BY ordinal_position`,
    );
    expect(
      types.map((c) => `${c.column_name} ${c.data_type}${c.is_nullable === "NO" ? " not null" : ""}`),
    ).toMatchInlineSnapshot(`
      [
        "id text not null",
        "status text not null",
        "output jsonb",
        "response jsonb",
        "usage jsonb",
        "model text",
        "batch_id text",
        "attempts integer",
        "input jsonb",
        "error jsonb",
        "source_file text",
        "source_line bigint",
        "created_at timestamp with time zone not null",
      ]
    `);
    const before = await query<{ id: string; created_at: Date }>(
      "SELECT id, created_at FROM typed ORDER BY id",
    );

    const second = await open({ table: "typed", columns: "all" }, seq1 as number);
    // r1 twice in one write: the later row wins
    await second.write([
      success("r1", "neutral"),
      success("r2", { label: "pos", score: 0.9 }),
      success("r1", "negative", { attempts: 3 }),
    ]);
    const seq2 = await second.commit("k2");
    expect(seq2).toBeGreaterThan(seq1 as number);
    // the same key again takes a new seq
    expect(await second.commit("k2")).toBeGreaterThan(seq2 as number);
    expect(await second.committed!("k1")).toBe(true);
    await second.close();

    const rows = await query<Record<string, unknown>>(
      "SELECT id, status, output, usage, attempts, error, source_line, created_at FROM typed ORDER BY id",
    );
    expect(rows.map(({ created_at, ...row }) => row)).toEqual([
      {
        id: "r1",
        status: "success",
        output: "negative",
        usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        attempts: 3,
        error: null,
        source_line: "1",
      },
      {
        id: "r2",
        status: "success",
        output: { label: "pos", score: 0.9 },
        usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        attempts: 1,
        error: null,
        source_line: "2",
      },
      {
        id: "r3",
        status: "failed",
        output: null,
        usage: null,
        attempts: 2,
        error: { code: "context_length_exceeded", message: "too long", status_code: 400 },
        source_line: "9",
      },
    ]);
    expect(rows.map((r) => r.created_at)).toEqual(before.map((r) => r.created_at));
  });

  it("default columns: no response, input and provenance for failures only; listed paths become jsonb columns, added to an existing table", async () => {
    const lean = await open({ table: "lean" });
    await lean.write([success("r1", { sentiment: "positive" }), failure("r2")]);
    await lean.commit("k1");
    await lean.close();
    const columns = async () =>
      (
        await query<{ column_name: string; data_type: string }>(
          `SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = 'lean' ORDER BY ordinal_position`,
        )
      ).map((c) => `${c.column_name} ${c.data_type}`);
    expect(await columns()).toEqual([
      "id text",
      "status text",
      "output jsonb",
      "usage jsonb",
      "model text",
      "batch_id text",
      "attempts integer",
      "error jsonb",
      "input jsonb",
      "source_file text",
      "source_line bigint",
      "created_at timestamp with time zone",
    ]);
    expect(await query("SELECT id, input, source_line FROM lean ORDER BY id")).toEqual([
      { id: "r1", input: null, source_line: null },
      { id: "r2", input: { id: "r2" }, source_line: "9" },
    ]);

    const more = await open({
      table: "lean",
      columns: ["output.sentiment", { tokens: "usage.total_tokens" }, "response", "created_at"],
    });
    await more.write([success("r3", { sentiment: "negative" })]);
    await more.commit("k2");
    await more.close();
    expect((await columns()).slice(-3)).toEqual(["output_sentiment jsonb", "tokens jsonb", "response jsonb"]);
    const [row] = await query(
      "SELECT status, output, output_sentiment, tokens, response FROM lean WHERE id = 'r3'",
    );
    expect(row).toEqual({
      status: "success",
      output: null,
      output_sentiment: "negative",
      tokens: 5,
      response: { id: "resp-r3", choices: [{ message: { content: "[object Object]" } }] },
    });
  });

  it("writes into an existing table: the columns it has, cast to their types; its other columns keep their defaults", async () => {
    await query(`CREATE TABLE mine (
      id varchar(40) PRIMARY KEY,
      output text,
      usage json,
      attempts bigint,
      note text NOT NULL DEFAULT 'from the table',
      serial_no bigserial
    )`);
    await query("INSERT INTO mine (id, output) VALUES ('old', 'kept')");
    const handle = await open({ table: "mine" });
    await handle.write([success("r1", "plain text"), success("r2", { a: [1, 2] }), failure("r3")]);
    await handle.commit("k1");
    await handle.close();
    const rows = await query("SELECT id, output, usage, attempts, note FROM mine ORDER BY id");
    expect(rows).toEqual([
      { id: "old", output: "kept", usage: null, attempts: null, note: "from the table" },
      // a string output is plain text in a text column, anything else JSON text (as jsonb prints it)
      {
        id: "r1",
        output: "plain text",
        usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        attempts: "1",
        note: "from the table",
      },
      {
        id: "r2",
        output: '{"a": [1, 2]}',
        usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        attempts: "1",
        note: "from the table",
      },
      { id: "r3", output: null, usage: null, attempts: "2", note: "from the table" },
    ]);
  });

  it("creates only the columns asked for; an existing table it cannot upsert into fails at open with what to do", async () => {
    const handle = await open({ table: "slim", columns: ["output", "created_at"] });
    // id and status are written whether listed or not
    await handle.write([success("r1", { x: 1 })]);
    await handle.commit("k1");
    await handle.close();
    expect(await query("SELECT id, status, output FROM slim")).toEqual([
      { id: "r1", status: "success", output: { x: 1 } },
    ]);
    expect(
      (
        await query<{ n: string }>(
          "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'slim'",
        )
      )[0]!.n,
    ).toBe("4");

    await query("CREATE TABLE nokey (id text, output text)");
    await expect(open({ table: "nokey" })).rejects.toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringContaining("not a primary key or unique"),
      hint: 'ALTER TABLE "public"."nokey" ADD PRIMARY KEY (id), or name another table.',
    });
    await query("CREATE TABLE noid (key text PRIMARY KEY)");
    await expect(open({ table: "noid" })).rejects.toMatchObject({
      message: expect.stringContaining("no id column"),
    });
    await query("CREATE TABLE strict_t (id text PRIMARY KEY, owner text NOT NULL)");
    await expect(open({ table: "strict_t" })).rejects.toMatchObject({
      message: expect.stringContaining("NOT NULL column(s) owner"),
    });
    await expect(open({ table: "t", schema: "missing_schema" })).rejects.toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringContaining('schema "missing_schema" does not exist'),
      hint: 'The sink\'s schema does not exist: create it (CREATE SCHEMA "missing_schema"), or set schema to one that exists (default public), then run again: the run resumes from its last commit.',
    });
    await query("CREATE SCHEMA team");
    const inSchema = await open({ table: "results", schema: "team" });
    await inSchema.write([success("s1", "ok")]);
    await inSchema.commit("k1");
    await inSchema.close();
    expect(await query("SELECT id FROM team.results")).toEqual([{ id: "s1" }]);
  });

  it("a write the server refuses fails the delivery: its commit throws and none of its rows are in the table", async () => {
    await query("CREATE TABLE picky (id text PRIMARY KEY, status text CHECK (status <> 'failed'))");
    const handle = await open({ table: "picky" });
    await handle.write([success("r1", "ok")]);
    await handle.commit("k1");
    // write() may return before the server answers: the failure shows at the latest in commit
    const delivery = async () => {
      await handle.write([success("r2", "ok")]);
      await handle.write([failure("r3")]);
      await handle.commit("k2");
    };
    await expect(delivery()).rejects.toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringMatching(/write failed: .*violates check constraint/),
    });
    await expect(handle.commit("k3")).rejects.toMatchObject({ code: "PLUGIN_FAILED" });
    await handle.close();
    expect(await query("SELECT id FROM picky ORDER BY id")).toEqual([{ id: "r1" }]);
    const reopened = await open({ table: "picky" }, 1);
    expect(await reopened.committed!("k2")).toBe(false);
    await reopened.close();
  });

  it("stores hostile values: SQL in ids and text, NUL (as U+FFFD), lone surrogates, deep JSON, megabytes", async () => {
    await query("CREATE TABLE keep (v text); INSERT INTO keep VALUES ('still here')");
    const injection = `x'); DROP TABLE keep; --`;
    const nested = (nul: string) => {
      let value: Record<string, unknown> = { leaf: `bottom${nul}` };
      for (let i = 0; i < 200; i++) value = { [`level${i}`]: value, list: [i, null, nul, "\\u0000 literal"] };
      return value;
    };
    const deep = nested("\u0000");
    const huge = `${"🙂 ".repeat(500_000)}${injection}`;
    const rows: ResultRow[] = [
      success(injection, { answer: "'; DELETE FROM keep; --", nul: "a\u0000b", lone: "x\ud800y", deep }),
      success("nul\u0000id", "text with \u0000 and ' quotes and a lone \udc00 surrogate", {
        response: { body: huge },
      }),
    ];
    const handle = await open({ table: "hostile", columns: "all" });
    await handle.write(rows);
    await handle.commit(`key ${injection}`);
    expect(await handle.committed!(`key ${injection}`)).toBe(true);
    await handle.close();

    expect(await query("SELECT v FROM keep")).toEqual([{ v: "still here" }]);
    const byId = async (id: string) => (await query("SELECT * FROM hostile WHERE id = $1", [id]))[0]!;
    const first = await byId(injection);
    const output = first.output as Record<string, unknown>;
    expect(output.answer).toBe("'; DELETE FROM keep; --");
    expect(output.nul).toBe("a\ufffdb");
    expect(output.lone).toBe("x\ufffdy");
    expect(output.deep).toEqual(nested("\ufffd"));
    const second = await byId("nul\ufffdid");
    expect(second.output).toBe("text with \ufffd and ' quotes and a lone \ufffd surrogate");
    expect((second.response as { body: string }).body).toBe(huge);
  });

  it("a checkpoint the database never reached fails at open; errors never show the password", async () => {
    const handle = await open({ table: "ahead" });
    await handle.commit("k1");
    await handle.close();
    await expect(open({ table: "ahead" }, 10_000)).rejects.toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringMatching(/has no commit 10000 \(its last is \d+\)/),
    });
    const error = await open({ table: "ahead" }, 10_000).catch((e: Error) => e);
    expect(String(error)).toContain(`postgres://postgres@127.0.0.1:${server.port}/${DB}`);
    expect(`${String(error)} ${(error as { hint?: string }).hint}`).not.toContain(POSTGRES_PASSWORD);

    const refused = await sink
      .open({
        ...createTestContext(
          "/tmp",
          sink.options.parse({
            url: url.replace(`:${server.port}/`, ":1/").replace(POSTGRES_PASSWORD, "pw%40secret"),
          }),
        ),
        checkpoint: undefined,
      })
      .catch((e: Error) => e);
    expect(refused).toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringContaining("cannot connect to"),
    });
    expect(String(refused)).not.toMatch(/pw%40secret|pw@secret/);
  });

  it("forget() drops an earlier run's rows of records that ended the other way, with the commit", async () => {
    const earlier = await open({ table: "forgets" });
    await earlier.write([success("f1", "a"), success("f2", "b"), success("f3", "c")]);
    await earlier.commit("run1");
    await earlier.close();
    // the next run: f2's changed request failed (in the errors table); f1 and f3 are delivered again
    const next = await open({ table: "forgets" });
    await next.write([success("f1", "a2")]);
    await next.forget!(["f2"]);
    // not committed: the row is still there for others, and a close without commit keeps it
    await next.close();
    expect((await query("SELECT id FROM forgets ORDER BY id")).map((r) => r.id)).toEqual(["f1", "f2", "f3"]);
    const again = await open({ table: "forgets" });
    await again.forget!(["f2", "not-there"]);
    await again.commit("run2");
    await again.close();
    expect((await query("SELECT id FROM forgets ORDER BY id")).map((r) => r.id)).toEqual(["f1", "f3"]);
  });

  it("a URL without a password is named in full in messages (only a password is redacted)", async () => {
    const message = async (u: string) => {
      const error = await sink
        .open({
          ...createTestContext("/tmp", sink.options.parse({ url: u, table: "nopw" })),
          checkpoint: undefined,
        })
        .catch((e: Error) => e);
      return String(error).replace(String(server.port), "<port>").replace(DB, "<db>");
    };
    const bare = url.replace(`:${POSTGRES_PASSWORD}@`, "@");
    // the server asks for a password the URL does not have; then a port nothing listens on
    expect(await message(bare)).toMatchInlineSnapshot(
      `"BatchpipeError: cannot connect to postgres://postgres@127.0.0.1:<port>/<db> "public"."nopw": SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string"`,
    );
    expect(await message(bare.replace(`:${server.port}/`, ":1/"))).toMatchInlineSnapshot(
      `"BatchpipeError: cannot connect to postgres://postgres@127.0.0.1:1/<db> "public"."nopw": connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)"`,
    );
  });
});
