// The seed's class shape must type-check as users write it (literals widen to string in statics).
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ROOT, runNode, tempDir } from "../../batchpipe/test/support/harness.js";

/**
 * `source` type-checked as `file` by tsc (strict, NodeNext; unless `exactOptional: false`, with
 * exactOptionalPropertyTypes and noImplicitOverride too) in a module project of its own; `openai`:
 * with the OpenAI SDK installed
 */
async function typeCheck(
  prefix: string,
  file: string,
  source: string,
  o: { exactOptional?: boolean; openai?: boolean } = {},
) {
  const dir = tempDir(prefix);
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  if (o.openai) {
    // the app's own dependency on the OpenAI SDK, for its types
    fs.mkdirSync(path.join(dir, "node_modules"));
    fs.symlinkSync(path.join(ROOT, "node_modules/openai"), path.join(dir, "node_modules/openai"));
  }
  fs.writeFileSync(path.join(dir, file), source);
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  const stricter = o.exactOptional !== false ? ["--exactOptionalPropertyTypes", "--noImplicitOverride"] : [];
  const project = ["--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"];
  return runNode([tsc, "--noEmit", "--strict", ...stricter, ...project, "--skipLibCheck", file], {
    cwd: dir,
  });
}

it("a BatchRunner subclass written as in the docs type-checks (strict, NodeNext)", async () => {
  const core = path.join(ROOT, "packages/core/dist/index.js");
  const result = await typeCheck(
    "bp-runner-types-",
    "runner.ts",
    `import { BatchRunner, type BatchErrorItem, type BatchOutputItem } from ${JSON.stringify(core)};
class Runner extends BatchRunner {
  static workConfig = { name: "example", completion_window: "24h", endpoint: "/v1/chat/completions",
    allow_same_dataset: false, clean_up: true, model: "gpt-4o-mini",
    provider: { use: "emulator" }, batch: { poll_interval: "200ms", max_requests: 100 } };
  static async *upload() { yield { id: "1", messages: [{ role: "user", content: "hi" }] }; }
  static async download(items: AsyncIterable<BatchOutputItem>) { for await (const i of items) void i.content; }
  static async downloadError(items: AsyncIterable<BatchErrorItem>) { for await (const i of items) void i.error.code; }
}
const result = await Runner.run();
const succeeded: number = result.report.succeeded;
const detached = await Runner.run({ detach: true });
const pid: number | undefined = detached.detached ? detached.pid : undefined;
void succeeded;
void pid;
`,
    { exactOptional: false },
  );
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}, 90_000);

it("Runner.run({ detach }) with a boolean (examples/programmatic/run.mjs in TypeScript) is a RunResult or a DetachedRun", async () => {
  const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
  const result = await typeCheck(
    "bp-runner-detach-types-",
    "run.ts",
    `import { BatchRunner, type DetachedRun, type RunResult } from ${JSON.stringify(batchpipe)};
class Runner extends BatchRunner {
  static override workConfig = { name: "detach-types", model: "gpt-4o-mini" };
  static override async *upload() { yield { id: "1", messages: [{ role: "user", content: "hi" }] }; }
}
declare const process: { argv: string[] }; // no @types/node in this folder
// as the docs say: the same call in the starting process and in the background one
const detach = process.argv.includes("--detach");
const result = await Runner.run({ dir: ".", detach, force: true });
if (result.detached) {
  const started: DetachedRun = result;
  console.log(started.pid, started.log, started.stateDir);
} else {
  const ran: RunResult = result;
  console.log(ran.report.succeeded);
}
// without detach (or detach: false) it is the RunResult alone
const plain: RunResult = await Runner.run({ dir: "." });
const notDetached: RunResult = await Runner.run({ detach: false });
// detach: true may be either (the background process runs it in the foreground)
const either = await Runner.run({ detach: true });
const pid: number | undefined = either.detached ? either.pid : undefined;
void plain;
void notDetached;
void pid;
`,
  );
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}, 90_000);

it("a workConfig may hold every batch option the schema takes and a provider's own options (inferred or annotated WorkConfig)", async () => {
  const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
  const result = await typeCheck(
    "bp-runner-workconfig-types-",
    "config.ts",
    `import { BatchRunner, type WorkConfig } from ${JSON.stringify(batchpipe)};
// max_outage alone: a batch block sharing no key with the type was refused as a whole
class Outage extends BatchRunner {
  static override workConfig = { name: "outage", model: "gpt-4o-mini", batch: { max_outage: "30m" } };
}
class Nulls extends BatchRunner {
  static override workConfig = { name: "nulls", batch: { max_requests: null, max_bytes: null, deadline: null } };
}
const all: WorkConfig = {
  name: "all",
  batch: { max_outage: "1h", cache_max_size: "1GB", deadline: "12h", poll_interval: "30s", max_requests: 100 },
  provider: { use: "anthropic", api_key: "k", max_enqueued_requests: 1000, timeout_ms: 60_000 },
};
class Annotated extends BatchRunner {
  static override workConfig: WorkConfig = all;
}
void [Outage, Nulls, Annotated];
`,
  );
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}, 90_000);

it("upload() may yield messages and bodies typed with the OpenAI SDK's interfaces, and literals with other keys", async () => {
  const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
  const result = await typeCheck(
    "bp-runner-sdk-types-",
    "upload.ts",
    `import { BatchRunner, type BatchInputItem } from ${JSON.stringify(batchpipe)};
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from "openai/resources/chat/completions";

// an app's own interface (no index signature), as the SDK's are
interface Message { role: "user" | "system"; content: string }
declare const history: ChatCompletionMessageParam[];
declare const mine: readonly Message[];
declare const params: ChatCompletionCreateParamsNonStreaming;

class Runner extends BatchRunner {
  static override workConfig = { name: "sdk-types", model: "gpt-4o-mini" };
  static override async *upload(): AsyncIterable<BatchInputItem> {
    yield { id: "1", messages: history };
    yield { id: "2", messages: mine };
    yield { id: "3", body: params };
    yield { id: 4, messages: [{ role: "user", content: "hi", name: "bob" }], dbKey: 7 };
    yield { id: "5", messages: [{ role: "assistant", tool_calls: [] }, { role: "tool", tool_call_id: "t", content: "42" }] };
  }
}
void Runner;
`,
    { openai: true },
  );
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}, 90_000);

it("upload() may return or yield an app's own item interface (no index signature); batchpipe exports the item and message types", async () => {
  const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
  const result = await typeCheck(
    "bp-runner-item-interface-",
    "items.ts",
    `import { type BatchInputFields, type BatchMessage, BatchRunner } from ${JSON.stringify(batchpipe)};
interface Review { id: string; messages: { role: "user"; content: string }[]; reviewId: number }
// an app that depends on batchpipe alone names the item and message types from it
const message: BatchMessage = { role: "user", content: "hi" };
const item: BatchInputFields = { id: "1", messages: [message] };
declare function load(): Promise<Review[]>;
class FromArray extends BatchRunner {
  static override workConfig = { name: "from-array", model: "gpt-4o-mini" };
  static override async upload() { return load(); }
}
class FromGenerator extends BatchRunner {
  static override workConfig = { name: "from-generator", model: "gpt-4o-mini" };
  static override async *upload() { for (const review of await load()) yield review; }
}
void [FromArray, FromGenerator, item];
`,
  );
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}, 90_000);
