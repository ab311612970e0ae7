// The result cache's cost per request: storing successes (compress + insert, one transaction per
// delivery part of 5,000 as collection does) and looking requests up (the read phase of a rerun,
// which opens the cache again), with ~600-byte chat responses. CPU time of this process (user +
// system), so a busy machine does not inflate it; wall time beside it. Needs `pnpm build` first.
// Results under 1 KB of JSON are stored as they are, larger ones compressed: the second argument
// lengthens each answer to show both; the third stores that many other results first, untimed (a
// cache that has grown over many runs: storing should cost the same, lookups a little more).
// Usage: node bench/result-cache.js [requests=100000] [extra answer chars=0] [stored before=0]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";

const N = Number(process.argv[2] ?? 100_000);
const EXTRA = Number(process.argv[3] ?? 0);
const BEFORE = Number(process.argv[4] ?? 0);
const words = "the delivery was quick and the build quality matches the price; ";
const PART = 5_000;
/** a batch of the default size after the first (the read's shard-writer.ts): a rerun's hits come back shuffled within one */
const BATCH = 12_500;
const { ResultCache } = await import("../packages/core/dist/cache/index.js");
const { RequestIndex } = await import("../packages/core/dist/engine/read/id-index.js");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-bench-cache-"));
const digest = (i) =>
  RequestIndex.digest("/v1/chat/completions", `{"model":"gpt-4o-mini","n":${BEFORE + i}}`);
const response = (i) => ({
  id: `chatcmpl-${i}`,
  object: "chat.completion",
  created: 1764950000 + i,
  model: "gpt-4o-mini-2024-07-18",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: `{"sentiment":"${i % 3 ? "positive" : "negative"}","confidence":0.${i % 97},"summary":"Review ${i} talks about the product's build quality, delivery time and value for money in some detail.${words.repeat(Math.ceil(EXTRA / words.length)).slice(0, EXTRA)}"}`,
        refusal: null,
      },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 120 + (i % 50), completion_tokens: 40 + (i % 20), total_tokens: 160 + (i % 70) },
  system_fingerprint: "fp_0123456789",
});
const digests = Array.from({ length: N }, (_, i) => digest(i));
const result = (i) => ({
  response: response(i),
  usage: { input_tokens: 120, output_tokens: 40 },
  model: "gpt-4o-mini",
});
let rawBytes = 0;

const cache = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30 });
for (let i = 0; i < BEFORE; i++) {
  cache.add(RequestIndex.digest("/v1/chat/completions", `{"n":${i}}`), result(i), 0.00002);
  if (i % PART === PART - 1) await cache.flush();
}
await cache.flush();
const clock = () => ({ wall: performance.now(), cpu: process.cpuUsage() });
const since = (c) => {
  const d = process.cpuUsage(c.cpu);
  return { wall: performance.now() - c.wall, cpu: (d.user + d.system) / 1000 };
};
let addMs = { wall: 0, cpu: 0 };
let flushMs = { wall: 0, cpu: 0 };
const plus = (a, b) => ({ wall: a.wall + b.wall, cpu: a.cpu + b.cpu });
for (let from = 0; from < N; from += PART) {
  // one delivery part's results at a time, as collection holds them
  const results = [];
  for (let i = from; i < Math.min(N, from + PART); i++) results.push(result(i));
  for (const r of results) rawBytes += JSON.stringify(r).length;
  let t = clock();
  for (let i = 0; i < results.length; i++) cache.add(digests[from + i], results[i], 0.00002);
  addMs = plus(addMs, since(t));
  t = clock();
  await cache.flush();
  flushMs = plus(flushMs, since(t));
}
const writeMs = plus(addMs, flushMs);
let t;
const stats = cache.stats();
await cache.close();

// looked up as a rerun does: the cache opened again under the run's lock, storing nothing, the
// read giving the event loop a turn every ~2 ms (a turn's lookups share a read transaction)
const rerun = ResultCache.open(dir, { provider: "openai", maxBytes: 1 << 30, locked: true });
const lookUp = async (digestOf, n) => {
  let found = 0;
  let turn = performance.now();
  for (let i = 0; i < n; i++) {
    if (rerun.get(digestOf(i))) found++;
    if (i % 32 === 0 && performance.now() - turn > 2) {
      await new Promise((resolve) => setImmediate(resolve));
      turn = performance.now();
    }
  }
  return found;
};
t = clock();
const hits = await lookUp((i) => digests[i], N);
const hitMs = since(t);
const readInOrder = rerun.blocksRead;
// a rerun whose batches came back in another order than their requests (a provider returns a
// batch's results in any order): hits shuffled within each batch's 12,500
const shuffled = Array.from({ length: N }, (_, i) => i);
for (let from = 0; from < N; from += BATCH) {
  const end = Math.min(N, from + BATCH);
  for (let i = end - 1; i > from; i--) {
    const j = from + ((i * 7919 + 13) % (i - from + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
}
t = clock();
const shuffledHits = await lookUp((i) => digests[shuffled[i]], N);
const shuffledMs = since(t);
const readShuffled = rerun.blocksRead - readInOrder;
const missing = Array.from({ length: N }, (_, i) => digest(N + i));
t = clock();
const misses = N - (await lookUp((i) => missing[i], N));
const missMs = since(t);
await rerun.close();
fs.rmSync(dir, { recursive: true, force: true });

const us = (ms) =>
  `${((ms.cpu * 1000) / N).toFixed(1)} µs CPU (${((ms.wall * 1000) / N).toFixed(1)} µs wall)`;
console.log(
  `${N.toLocaleString()} results, ~${Math.round(rawBytes / N)} bytes of JSON each${BEFORE ? `, on top of ${BEFORE.toLocaleString()} stored before` : ""}`,
);
// the writer is a worker thread: process CPU counts both threads; the caller's thread is busy only in
// add() (JSON, hand-over) and waits in flush() for the commit
console.log(`  store: ${us(writeMs)} per result (CPU of both threads), of which`);
console.log(`    add (JSON, handed to the writer; the caller's thread): ${us(addMs)}`);
console.log(`    flush, ${PART} per commit (the caller waits for the writer): ${us(flushMs)}`);
console.log(
  `  look up, found (select + inflate): ${us(hitMs)} per request (${hits} hits, ${readInOrder} blocks read)`,
);
console.log(
  `  look up, found in another order (shuffled within each ${BATCH}): ${us(shuffledMs)} per request (${shuffledHits} hits, ${readShuffled} blocks read)`,
);
console.log(`  look up, not found (select): ${us(missMs)} per request (${misses} misses)`);
console.log(
  `  stored ${(stats.bytes / (N + BEFORE)).toFixed(0)} bytes per result (${((stats.bytes / (N + BEFORE) / (rawBytes / N)) * 100).toFixed(0)}% of the JSON); cache.db + WAL ${(stats.fileBytes / 1e6).toFixed(1)} MB`,
);
