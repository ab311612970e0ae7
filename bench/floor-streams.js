// The floor: what the machine does with node streams and JSON.parse/stringify alone. Reads the
// input, parses each record, and writes the same number of result bytes as batchpipe's JSONL sink
// (each row stringified from an object padded to the average row size).
// Usage: node bench/floor-streams.js input.jsonl out.jsonl target-bytes records
import fs from "node:fs";
import readline from "node:readline";

const [input, output, targetArg, linesArg] = process.argv.slice(2);
const target = Number(targetArg);
const lines = Number(linesArg);
const out = fs.createWriteStream(output);
let written = 0;
let index = 0;
for await (const line of readline.createInterface({
  input: fs.createReadStream(input),
  crlfDelay: Infinity,
})) {
  if (line === "") continue;
  const record = JSON.parse(line);
  const row = { id: record.id, status: "success", output: record.text, input: record, pad: "" };
  let text = JSON.stringify(row);
  // spread the remaining bytes evenly over the remaining rows
  const want = Math.floor((target - written) / (lines - index)) - 1;
  if (want > text.length) {
    row.pad = "x".repeat(want - text.length);
    text = JSON.stringify(row);
  }
  const chunk = `${text}\n`;
  written += Buffer.byteLength(chunk);
  index++;
  if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
}
await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
console.log(JSON.stringify({ records: index, bytes: written }));
