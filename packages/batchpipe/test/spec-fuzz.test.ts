// Spec fuzzing: a seeded hand-rolled mutator over a valid spec (deleted keys, wrong types, unknown
// keys, broken indentation, random bytes, huge values, ${...} oddities) and random YAML documents.
// Every case must end with exit 0 (still valid) or exit 2 with a located message
// (pipeline.yaml:line:col); never a stack trace, never "unexpected error", never a throw.
// Reproduce a failure with BATCHPIPE_FUZZ_SEED=<seed> (printed in the failure message).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { cli, tempDir } from "./support/harness.js";

const SEED = Number(process.env.BATCHPIPE_FUZZ_SEED ?? 20261127);
const CASES = Number(process.env.BATCHPIPE_FUZZ_CASES ?? 300);
/** a spec error must come back quickly, whatever the spec holds */
const SLOW_MS = 5000;
const STACK_LINE = /^\s+at .+[:(]\d+:\d+\)?$/m;

const BASE = `version: 1
name: fuzz
provider:
  use: emulator
source:
  use: jsonl
  path: ./data.jsonl
transform:
  use: prompt
  endpoint: /v1/chat/completions
  id: "{{ id }}"
  body:
    model: gpt-4o-mini
    temperature: 0
    messages:
      - { role: system, content: You are terse. }
      - { role: user, content: "Classify: {{ text }}" }
batch:
  completion_window: 24h
  max_requests: 1000
  max_bytes: 10MB
  poll_interval: 30s
  max_attempts: 3
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
  - { use: sqlite, path: ./out/results.db, table: results }
errors:
  - { use: jsonl, path: ./out/errors.jsonl }
`;

/** the source's input: validate checks that it exists and renders its first record */
const DATA = `${JSON.stringify({ id: "r1", text: "hello" })}\n`;

describe("spec fuzzing (validate, in process)", () => {
  it("the base spec is valid", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), DATA);
    fs.writeFileSync(path.join(dir, "pipeline.yaml"), BASE);
    const run = await cli(["validate", "pipeline.yaml"], { cwd: dir, env: {} });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it(`${CASES} seeded mutations and random documents: exit 0, or exit 2 with file:line:col`, async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), DATA);
    const file = path.join(dir, "pipeline.yaml");
    const outcomes = { valid: 0, invalid: 0 };
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const rnd = random(SEED * 7919 + i);
      const { text, ops } = makeCase(rnd);
      fs.writeFileSync(file, text);
      if (process.env.BATCHPIPE_FUZZ_TRACE)
        fs.appendFileSync(process.env.BATCHPIPE_FUZZ_TRACE, `${i} ${ops}\n`);
      let run: { code: number; stdout: string; stderr: string };
      const started = Date.now();
      try {
        run = await cli(["validate", "pipeline.yaml"], { cwd: dir, env: { SET: "x" } });
      } catch (error) {
        run = { code: -1, stdout: "", stderr: `runCli threw: ${(error as Error).stack}` };
      }
      const ms = Date.now() - started;
      const output = `${run.stdout}${run.stderr}`;
      const problem =
        ms > SLOW_MS
          ? `took ${ms} ms`
          : run.code === 0
            ? run.stdout.includes("is valid")
              ? undefined
              : "exit 0 without the valid line"
            : run.code !== 2
              ? `exit ${run.code}`
              : /unexpected error/.test(output)
                ? "unexpected error"
                : STACK_LINE.test(output)
                  ? "stack trace"
                  : !/pipeline\.yaml:\d+:\d+/.test(run.stderr)
                    ? "no file:line:col"
                    : undefined;
      if (run.code === 0) outcomes.valid++;
      else outcomes.invalid++;
      if (problem) {
        failures.push(
          `case ${i} (${ops.join(", ")}): ${problem}\n--- spec ---\n${preview(text)}\n--- output ---\n${preview(output)}`,
        );
      }
    }
    if (failures.length > 0) console.log(failures.slice(0, 5).join("\n\n"));
    // reproduce with BATCHPIPE_FUZZ_SEED=<seed>
    expect(failures.slice(0, 5), `seed ${SEED}: ${failures.length} of ${CASES} cases failed`).toEqual([]);
    // the mutator must mostly break things, or it tests nothing
    expect(outcomes.invalid).toBeGreaterThan(CASES * 0.6);
  }, 120_000);
});

// --- the mutator ---

type Rnd = () => number;

function random(seed: number): Rnd {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: Rnd, list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;

// ${...} here is YAML interpolation syntax, not a JS template
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: spec text
const ODD_STRINGS = [
  "${",
  "${}",
  "${UNSET_VAR}",
  "${UNSET:-}",
  "${UNSET:-${ALSO_UNSET}}",
  "$${SET}",
  "${1BAD}",
  "${SET",
  "pre ${SET} post ${UNSET}",
  "${SET:-default}",
  "{{ unclosed",
  "{% if %}",
  "\u0000",
  "\u202e\ufeff",
  "",
  " ",
  "../../../../etc/passwd",
  "-1",
  "1e400",
  "NaN",
  "200XB",
  "-5s",
  "9999999999999999999999",
];
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: spec text

const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  [],
  {},
  [1, "two", null],
  { nested: { deeper: [{}] } },
  "x".repeat(200_000),
];

function makeCase(rnd: Rnd): { text: string; ops: string[] } {
  const kind = rnd();
  if (kind < 0.12) return { text: randomDocument(rnd), ops: ["random document"] };
  const ops: string[] = [];
  let value = YAML.parse(BASE) as unknown;
  const structural = 1 + Math.floor(rnd() * 3);
  for (let n = 0; n < structural; n++) {
    const op = pick(rnd, ["delete", "retype", "unknown", "odd-string", "huge"] as const);
    ops.push(op);
    value = mutate(value, rnd, op);
  }
  let text: string;
  try {
    text = YAML.stringify(value, { lineWidth: 0 });
  } catch {
    text = BASE;
  }
  if (rnd() < 0.4) {
    const op = pick(rnd, ["indent", "bytes", "cut", "deep", "dup-key", "tab", "alias"] as const);
    ops.push(op);
    text = mutateText(text, rnd, op);
  }
  return { text, ops };
}

/** apply one structural mutation at a random place in the tree */
function mutate(root: unknown, rnd: Rnd, op: string): unknown {
  const holders: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const [i, v] of node.entries()) {
        holders.push({ parent: node, key: i });
        walk(v);
      }
    } else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        holders.push({ parent: node as Record<string, unknown>, key: k });
        walk(v);
      }
    }
  };
  walk(root);
  if (holders.length === 0) return root;
  const at = pick(rnd, holders);
  const parent = at.parent as Record<string | number, unknown>;
  switch (op) {
    case "delete":
      if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1);
      else delete parent[at.key];
      break;
    case "retype":
      parent[at.key] = structuredClone(pick(rnd, ODD_VALUES.slice(0, -1)));
      break;
    case "unknown": {
      const maps = holders.map((h) => (h.parent as Record<string, unknown>)[h.key as string]).filter(isMap);
      const target = maps.length > 0 && rnd() < 0.7 ? pick(rnd, maps) : (root as Record<string, unknown>);
      if (isMap(target))
        target[pick(rnd, ["colour", "sink", "srouce", "batch_size", "__proto__x", "use "])] = 1;
      break;
    }
    case "odd-string":
      parent[at.key] = pick(rnd, ODD_STRINGS);
      break;
    case "huge":
      parent[at.key] = pick(rnd, ["x".repeat(1_000_000), 10 ** 300, -(10 ** 300), "9".repeat(5000)]);
      break;
  }
  return root;
}

function mutateText(text: string, rnd: Rnd, op: string): string {
  const lines = text.split("\n");
  const at = Math.floor(rnd() * lines.length);
  switch (op) {
    case "indent":
      lines[at] = rnd() < 0.5 ? ` ${lines[at]}` : lines[at]!.replace(/^ {1,3}/, "");
      return lines.join("\n");
    case "tab":
      lines[at] = `\t${lines[at]}`;
      return lines.join("\n");
    case "bytes": {
      const bytes = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256));
      const pos = Math.floor(rnd() * text.length);
      return Buffer.concat([
        Buffer.from(text.slice(0, pos)),
        Buffer.from(bytes),
        Buffer.from(text.slice(pos)),
      ]).toString("latin1");
    }
    case "cut":
      return text.slice(0, Math.floor(rnd() * text.length));
    case "deep": {
      const depth = pick(rnd, [50, 500, 5000]);
      lines[at] = `${lines[at]!.match(/^\s*/)![0]}deep: ${"[".repeat(depth)}1${"]".repeat(depth)}`;
      return lines.join("\n");
    }
    case "dup-key":
      return `${text}name: again\n`;
    case "alias":
      return `${text}extra: *nowhere\n`;
  }
  return text;
}

function randomDocument(rnd: Rnd): string {
  const scalar = () =>
    pick(rnd, [
      ...ODD_STRINGS.map((s) => JSON.stringify(s)),
      "1",
      "true",
      "~",
      "- x",
      "? k",
      "&a",
      "!!binary x",
    ]);
  const lines: string[] = [];
  for (let n = 0; n < 1 + Math.floor(rnd() * 12); n++) {
    const indent = " ".repeat(Math.floor(rnd() * 6));
    const key = pick(rnd, [
      "version",
      "name",
      "source",
      "sinks",
      "batch",
      "use",
      "path",
      "-",
      "? ",
      "---",
      "...",
    ]);
    lines.push(`${indent}${key}${rnd() < 0.8 ? `: ${scalar()}` : ""}`);
  }
  return lines.join(rnd() < 0.1 ? "\r\n" : "\n");
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function preview(text: string): string {
  return text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} chars)` : text;
}
