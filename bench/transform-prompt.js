// Benchmark: the built-in prompt transform (the hot path: one call per record).
// Prints records/s for a chat body with a system prompt and a templated user message, an embeddings
// body with a single-expression input, and, as a baseline, LiquidJS parseAndRenderSync per record.
// Usage: pnpm build && node bench/transform-prompt.js [records]
import { createRequire } from "node:module";
import { promptTransform } from "../packages/core/dist/index.js";

const count = Number(process.argv[2] ?? 1_000_000);
const { Liquid } = createRequire(new URL("../packages/core/package.json", import.meta.url))("liquidjs");

const words = ["great", "terrible", "fine", "works", "broke", "again", "value", "would", "buy", "ünïcødé"];
const records = Array.from({ length: 10_000 }, (_, id) => ({
  data: {
    id: `rev-${id}`,
    stars: (id % 5) + 1,
    product: `p-${id % 997}`,
    text: Array.from({ length: 18 }, (_, j) => words[(id * 7 + j * 3) % words.length]).join(" "),
    tokens: [id, id + 1, id + 2],
  },
  position: { file: "bench.jsonl", line: id + 1 },
  cursor: id,
}));

const chat = {
  endpoint: "/v1/chat/completions",
  id: "{{ id }}",
  body: {
    model: "gpt-4o-mini",
    temperature: 0,
    response_format: { type: "json_schema", json_schema: { name: "sentiment", schema: { type: "object" } } },
    messages: [
      { role: "system", content: "You are a careful annotator. Answer with JSON only." },
      {
        role: "user",
        content: "Product {{ product }} ({{ stars }} stars). Classify the sentiment: {{ text }}",
      },
    ],
  },
};
const embeddings = {
  endpoint: "/v1/embeddings",
  body: { model: "text-embedding-3-small", input: "{{ tokens }}" },
};

async function measure(label, options) {
  const handle = await promptTransform.create({
    options: promptTransform.options.parse(options),
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
  });
  let bytes = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const request = handle.toRequest(records[i % records.length]);
    if (i % 100 === 0) bytes += JSON.stringify(request).length;
  }
  report(label, performance.now() - started, bytes * 100);
}

function baseline() {
  const liquid = new Liquid({ strictVariables: true, strictFilters: true });
  const template = chat.body.messages[1].content;
  const started = performance.now();
  const n = Math.min(count, 50_000);
  for (let i = 0; i < n; i++) liquid.parseAndRenderSync(template, records[i % records.length].data);
  report(
    "baseline: liquid.parseAndRenderSync (user message only)",
    ((performance.now() - started) * count) / n,
    0,
  );
}

function report(label, ms, bytes) {
  const perSecond = Math.round((count / ms) * 1000);
  const mb = bytes ? `, ~${Math.round(bytes / 1e6)} MB of request JSON` : "";
  console.log(
    `${label}: ${count.toLocaleString()} records in ${(ms / 1000).toFixed(2)} s = ${perSecond.toLocaleString()} records/s${mb}`,
  );
}

await measure("prompt transform, chat body (2 templates + constant parts)", chat);
await measure("prompt transform, embeddings body (single-expression input)", embeddings);
baseline();
console.log(`peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
