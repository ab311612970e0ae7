// The seed's runner example in TypeScript's shape (plain JS here so it runs without a build step):
// read data.jsonl, classify each review, write out/result.jsonl and out/errors.jsonl.
// Runs against the built-in emulator (no key, no network): `pnpm --filter @batchpipe/examples programmatic`.
// `node programmatic/run.mjs --detach` starts it in the background; its log is
// programmatic/.batchpipe/programmatic-sentiment/daemon.log.
import { appendFileSync, createReadStream, mkdirSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { BatchRunner } from "batchpipe";

const here = import.meta.dirname;
const out = (name) => `${here}/out/${name}`;
mkdirSync(out(""), { recursive: true });

class Runner extends BatchRunner {
  static workConfig = {
    name: "programmatic-sentiment",
    completion_window: "24h",
    endpoint: "/v1/chat/completions",
    allow_same_dataset: false,
    clean_up: true,
    model: "gpt-4o-mini",
    body: {
      temperature: 0,
      max_tokens: 50,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "sentiment",
          strict: true,
          schema: {
            type: "object",
            additionalProperties: false,
            required: ["sentiment", "confidence"],
            properties: {
              sentiment: { type: "string", enum: ["positive", "negative", "neutral"] },
              confidence: { type: "number" },
            },
          },
        },
      },
    },
    // the in-process emulator, one emulated hour per second; remove `provider` to use OpenAI
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    batch: { max_requests: 80, poll_interval: "200ms" },
  };

  static async *upload() {
    const lines = createInterface({ input: createReadStream(`${here}/data.jsonl`), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const review = JSON.parse(line);
      yield {
        id: review.id,
        messages: [
          { role: "system", content: "Classify the sentiment of the product review. Answer in JSON." },
          { role: "user", content: review.text },
        ],
      };
    }
  }

  // called once per delivery (≤ 5,000 results of one batch); a crash before it is recorded hands
  // the same results over again,
  // so a real download() should be idempotent (upsert by id) — here result.jsonl is rewritten per run
  static async download(items) {
    for await (const item of items) {
      appendFileSync(
        out("result.jsonl"),
        `${JSON.stringify({ id: item.id, status: item.status, content: item.content, usage: item.usage })}\n`,
      );
    }
  }

  static async downloadError(items) {
    for await (const item of items) {
      appendFileSync(out("errors.jsonl"), `${JSON.stringify({ id: item.id, error: item.error })}\n`);
    }
  }
}

const detach = process.argv.includes("--detach");
if (!process.env.BATCHPIPE_DAEMON) {
  rmSync(out("result.jsonl"), { force: true });
  rmSync(out("errors.jsonl"), { force: true });
}
// force: the demo's state may be new while the emulator is not; a rerun of the same data is
// answered from the result cache (noCache: true would send it again)
const result = await Runner.run({ dir: here, detach, force: true });
if (result.detached) {
  console.log(`started in the background: pid ${result.pid}, log ${result.log}`);
} else {
  const r = result.report;
  console.log(
    `${r.status}: ${r.succeeded} succeeded, ${r.failed} failed in ${r.batches} batches → out/result.jsonl`,
  );
}
