// The hand-written baseline: the minimum script a user writes around the `openai` SDK.
// Read the input, write batch files of 50,000 lines, upload, create, poll, download, write one
// results JSONL. No byte sharding, no resume, no retries of failed lines, no sinks beyond one file.
// Usage: OPENAI_BASE_URL=... OPENAI_API_KEY=... node bench/baseline-openai-script.js input.jsonl out-dir [poll-ms]
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import OpenAI from "openai";

const [input, outDir, pollArg] = process.argv.slice(2);
const POLL_MS = Number(pollArg ?? 200);
const LINES_PER_FILE = 50_000;
const client = new OpenAI(); // OPENAI_BASE_URL and OPENAI_API_KEY from the environment
fs.mkdirSync(outDir, { recursive: true });

// 1. batch files of 50,000 request lines
const batchFiles = [];
let out;
let count = 0;
for await (const line of readline.createInterface({
  input: fs.createReadStream(input),
  crlfDelay: Infinity,
})) {
  if (line === "") continue;
  const record = JSON.parse(line);
  if (count % LINES_PER_FILE === 0) {
    if (out) await close(out);
    const file = path.join(outDir, `batch-${batchFiles.length}.jsonl`);
    batchFiles.push(file);
    out = fs.createWriteStream(file);
  }
  const request = {
    custom_id: record.id,
    method: "POST",
    url: "/v1/chat/completions",
    body: {
      model: "gpt-4o-mini",
      temperature: 0,
      max_tokens: 50,
      messages: [
        { role: "system", content: "Classify the sentiment of the product review." },
        { role: "user", content: record.text },
      ],
    },
  };
  if (!out.write(`${JSON.stringify(request)}\n`)) await new Promise((r) => out.once("drain", r));
  count++;
}
if (out) await close(out);

// 2. upload and create one batch per file
const batches = [];
for (const file of batchFiles) {
  const uploaded = await client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
  batches.push(
    await client.batches.create({
      input_file_id: uploaded.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    }),
  );
}

// 3. poll until every batch is done
const DONE = new Set(["completed", "failed", "expired", "cancelled"]);
for (;;) {
  for (let i = 0; i < batches.length; i++) {
    if (!DONE.has(batches[i].status)) batches[i] = await client.batches.retrieve(batches[i].id);
  }
  if (batches.every((b) => DONE.has(b.status))) break;
  await new Promise((r) => setTimeout(r, POLL_MS));
}

// 4. download every output file and write the results
const results = fs.createWriteStream(path.join(outDir, "results.jsonl"));
let written = 0;
for (const batch of batches) {
  if (!batch.output_file_id) continue;
  const text = await (await client.files.content(batch.output_file_id)).text();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const result = JSON.parse(line);
    const body = result.response.body;
    const row = { id: result.custom_id, output: body.choices[0].message.content, usage: body.usage };
    if (!results.write(`${JSON.stringify(row)}\n`)) await new Promise((r) => results.once("drain", r));
    written++;
  }
}
await close(results);
console.log(JSON.stringify({ records: count, batches: batches.length, written }));

function close(stream) {
  return new Promise((resolve, reject) => stream.end((error) => (error ? reject(error) : resolve())));
}
