// Token estimation speed on the hot path: requests/s and tokens/s, exact (gpt-tokenizer) vs fast
// (character heuristic), for ~250-byte and ~2 KB chat requests. Needs `pnpm build` first.
// Usage: node bench/estimate-tokens.js [requests=200000]
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const N = Number(process.argv[2] ?? 200_000);

const t0 = performance.now();
const { estimateRequestTokens, fastTokenCount } = await import("../packages/core/dist/estimate/index.js");
const importMs = performance.now() - t0;
const t1 = performance.now();
estimateRequestTokens(line("warm up", "gpt-4o-mini"), { mode: "exact" });
const firstCallMs = performance.now() - t1;
console.log(
  `import estimate module: ${importMs.toFixed(0)} ms; first exact call (loads o200k_base): ${firstCallMs.toFixed(0)} ms`,
);

for (const [label, bytes] of [
  ["~250-byte records", 250],
  ["~2 KB records", 2048],
]) {
  const lines = makeLines(N, bytes);
  const avgBytes = lines.reduce((s, l) => s + JSON.stringify(l).length, 0) / lines.length;
  console.log(
    `\n${label}: ${N.toLocaleString()} chat requests, average JSONL line ${avgBytes.toFixed(0)} bytes`,
  );
  let exactTotal = 0;
  for (const mode of ["exact", "fast"]) {
    let tokens = 0;
    const start = performance.now();
    for (const l of lines) tokens += estimateRequestTokens(l, { mode });
    const s = (performance.now() - start) / 1000;
    if (mode === "exact") exactTotal = tokens;
    const ratio = mode === "fast" ? `, ${(tokens / exactTotal).toFixed(2)}× the exact count` : "";
    console.log(
      `  ${mode.padEnd(5)} ${fmt(N / s)} requests/s, ${fmt(tokens / s)} tokens/s (${(tokens / N).toFixed(1)} tokens/request${ratio})`,
    );
  }
}

// fast mode on other scripts: how far it is from exact
const coreRequire = createRequire(new URL("../packages/core/package.json", import.meta.url));
const { countTokens } = coreRequire("gpt-tokenizer/cjs/encoding/o200k_base");
console.log("\nfast/exact ratio by script (o200k_base):");
for (const [name, text] of Object.entries(SAMPLES())) {
  console.log(`  ${name.padEnd(8)} ${(fastTokenCount(text) / countTokens(text)).toFixed(2)}`);
}

function line(content, model) {
  return {
    custom_id: "x",
    url: "/v1/chat/completions",
    body: { model, messages: [{ role: "user", content }], max_tokens: 200 },
  };
}

// English-like text: common words drawn with a Zipf distribution, plus numbers and ids
// (the tokenizer caches merges per word, so a realistic word mix matters for its speed)
function makeLines(n, bytes) {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const words = englishWords().split(" ");
  const weights = words.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }
  const word = () => {
    const r = rand();
    if (r < 0.03) return String(Math.floor(rand() * 100000));
    if (r < 0.04)
      return `SKU-${Math.floor(rand() * 1e6)
        .toString(36)
        .toUpperCase()}`;
    const pick = rand();
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < pick) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  const overhead = JSON.stringify(line("", "gpt-4o-mini")).length;
  const out = [];
  for (let i = 0; i < n; i++) {
    let text = "";
    while (text.length < bytes - overhead) {
      text += `${word()}${rand() < 0.08 ? "," : ""} `;
    }
    out.push(line(`${text.trim()}.`, "gpt-4o-mini"));
  }
  return out;
}

function englishWords() {
  return "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by not word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find any new work part take get place made live where after back little only round man year came show every good me give our under name very through just form sentence great think say help low line differ turn cause much mean before move right boy old too same tell does set three want air well also play small end put home read hand port large spell add even land here must big high such follow act why ask men change went light kind off need house picture try us again animal point mother world near build self earth father head stand own page should country found answer school grow study still learn plant cover food sun four between state keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run while press close night real life few north customer product review delivery quality price recommend battery screen shipping refund support account order payment package broken excellent terrible";
}

function SAMPLES() {
  return {
    english:
      "The quick brown fox jumps over the lazy dog while the batch API processes requests overnight. ".repeat(
        20,
      ),
    code: "function add(a, b) { return a + b; } const xs = [1, 2, 3].map((x) => add(x, 1));\n".repeat(20),
    german: "Die Stapelverarbeitung sendet viele Anfragen auf einmal und sammelt die Antworten ein. ".repeat(
      20,
    ),
    chinese: "批处理可以一次发送许多请求并在一天内收集答案价格减半。".repeat(20),
    japanese: "バッチ処理は多くのリクエストを一度に送信し、一日以内に回答を集めます。".repeat(20),
    russian: "Пакетная обработка отправляет много запросов сразу и собирает ответы в течение дня. ".repeat(
      20,
    ),
  };
}

function fmt(x) {
  return Math.round(x).toLocaleString("en-US");
}
