// runSpec: a pipeline spec as an object, with plugins written inline (no files, no packages).
// The spec is the YAML spec's shape and is checked by the same schema; `use` takes a plugin object,
// or a name that `plugins` maps to one. Run: pnpm --filter @batchpipe/examples programmatic-spec

import { runSpec } from "batchpipe";
import { defineSink, defineSource, z } from "batchpipe/plugin";

const here = import.meta.dirname;

// a source: five made-up questions
const questions = defineSource({
  name: "questions",
  options: z.strictObject({ count: z.number().int().min(1) }),
  async *read({ options }) {
    for (let i = 1; i <= options.count; i++) {
      yield {
        data: { id: `q${i}`, text: `What is ${i} + ${i}?` },
        position: { file: "questions", line: i },
        cursor: i,
      };
    }
  },
});

// a sink keeping the answers in memory: commit() is where rows become delivered
const answers = new Map();
const memory = defineSink({
  name: "memory",
  options: z.strictObject({}),
  async open() {
    let pending = [];
    return {
      async write(rows) {
        pending.push(...rows);
      },
      async commit() {
        for (const row of pending) answers.set(row.id, row.output);
        pending = [];
        return answers.size;
      },
      async close() {},
    };
  },
});

const result = await runSpec(
  {
    version: 1,
    name: "inline-plugins",
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    source: { use: questions, count: 5 },
    transform: {
      endpoint: "/v1/chat/completions",
      id: "{{ id }}",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] },
    },
    batch: { poll_interval: "200ms", allow_same_dataset: true },
    sinks: [{ use: "memory" }, { use: "jsonl", path: "./out/inline.jsonl" }],
  },
  { dir: here, plugins: { memory } },
);
console.log(`${result.status}: ${result.report.succeeded} answers`);
for (const [id, answer] of [...answers].sort()) console.log(`  ${id}: ${answer}`);
