import { expect, test } from "vitest";
import { columnsOption, compileColumns, fieldsOption } from "../src/rows/projection.js";

/** each problem as [its place in the option, its message] */
const problems = (schema: typeof columnsOption | typeof fieldsOption, value: unknown) =>
  schema.safeParse(value).error?.issues.map((i) => [i.path.join("."), i.message]);

test("a renamed path cannot take the name of a row field's own column (it would overwrite every id)", () => {
  expect(problems(columnsOption, [{ id: "usage.total_tokens" }, { status: "model" }])).toEqual([
    ["0", expect.stringContaining('"id" is the name of the row\'s own id column')],
    ["1", expect.stringContaining('"status" is the name of the row\'s own status column')],
  ]);
  // every row field and table column is reserved, in any case (SQL names ignore it)
  for (const name of ["created_at", "source_line", "Source_File", "MODEL", "Output"])
    expect(problems(columnsOption, [{ [name]: "usage.total_tokens" }])?.[0]?.[1]).toContain("own");
  expect(problems(columnsOption, [{ ID: "id" }])).toEqual([
    ["0", expect.stringContaining("only by case: write id")],
  ]);
  // the field under its own name, or a name of its own, is fine
  expect(
    problems(columnsOption, [{ id: "id" }, { tokens: "usage.total_tokens" }, "source_line"]),
  ).toBeUndefined();
  // a JSON line keeps id and status for themselves; other names may be reused there
  expect(problems(fieldsOption, [{ id: "usage" }])?.[0]?.[1]).toContain("own id field");
  expect(problems(fieldsOption, [{ output: "output.sentiment" }])).toBeUndefined();
});

test("table sinks compare column names without case, as SQL does", () => {
  expect(
    problems(columnsOption, [{ Tokens: "usage.total_tokens" }, { tokens: "usage.prompt_tokens" }]),
  ).toEqual([["1", '"tokens" is named twice']]);
  expect(
    problems(fieldsOption, [{ Tokens: "usage.total_tokens" }, { tokens: "usage.prompt_tokens" }]),
  ).toBeUndefined();
});

test("a wrong entry is reported at its place, with what would fix it", () => {
  expect(problems(columnsOption, ["id", { "Weird Name": "model" }])).toEqual([
    ["1", expect.stringContaining('column name "Weird Name" is not a plain SQL identifier')],
  ]);
  expect(problems(columnsOption, ["id", "outptu"])).toEqual([
    ["1", expect.stringContaining('(did you mean "output"?)')],
  ]);
  expect(problems(columnsOption, ["output.tags[0]"])).toEqual([
    ["0", expect.stringContaining('"output.tags[0]" is not a path')],
  ]);
  // a map whose value is not a path names the entry, not just "the list"
  expect(problems(columnsOption, ["id", { x: 5 }])).toEqual([
    ["", expect.stringContaining('entry 2 ({"x":5}) must be a path')],
  ]);
  expect(problems(fieldsOption, [{}])).toEqual([["0", "one { name: path } per entry"]]);
  expect(problems(fieldsOption, "al")).toEqual([["", expect.stringContaining('must be "all"')]]);
});

test("a YAML key __proto__ is refused, not a crash of the schema", () => {
  const entry = JSON.parse('{"__proto__": "output"}');
  expect(() => fieldsOption.safeParse([entry])).not.toThrow();
  expect(fieldsOption.safeParse([entry]).success).toBe(false);
});

test("id and status come first, listed or not", () => {
  expect(compileColumns(["output.sentiment", { tokens: "usage.total_tokens" }]).map((c) => c.name)).toEqual([
    "id",
    "status",
    "output_sentiment",
    "tokens",
  ]);
});
