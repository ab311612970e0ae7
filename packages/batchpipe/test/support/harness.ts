/**
 * The one test harness: temp folders, the emulator (in this process, or in its own process so it
 * outlives a SIGKILLed CLI), the batchpipe CLI (in this process through runCli, or as a real child
 * process a test can signal or SIGKILL), node scripts in child processes, pipelines and datasets in
 * temp folders, and readers for what the sinks wrote. Core's tests import it by relative path: the
 * official plugins are dependencies of this package, not of core.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import type { EngineTuning } from "@batchpipe/core";
import { createEmulator, type Emulator, type EmulatorOptions } from "@batchpipe/openai-emulator";
import Database from "better-sqlite3";
import { expect } from "vitest";

export { officialPlugins } from "../../src/official-plugins.js";

export const ROOT = path.resolve(import.meta.dirname, "../../../..");
/** the bin users run (the committed shim over dist/) */
export const CLI_BIN = path.join(ROOT, "packages/batchpipe/bin/batchpipe.js");
/** the test-only entry that passes RunCliOptions.engine (JSON in its first argument) */
const CLI_CHILD = path.join(import.meta.dirname, "cli-child.mjs");
const EMULATOR_BIN = path.join(ROOT, "packages/openai-emulator/bin/batchpipe-emulator.js");
/** plugin files and preload scripts the CLI tests use */
export const FIXTURES = path.resolve(import.meta.dirname, "../fixtures");

// --- temp folders ---

export function tempDir(prefix = "bp-test-"): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** a fresh temp folder holding `files` (path → content) */
export function writeFiles(files: Record<string, string | Uint8Array>, prefix = "bp-spec-"): string {
  const dir = tempDir(prefix);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

// --- the emulator ---

/** an emulator in this process, fast enough for tests: 24h pass in 86 s */
export function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return createEmulator({ seed: 3, timeScale: 1000, ...options });
}

/**
 * an emulator process whose batches never get anywhere during a test (one line per 1,000 s), for
 * batch.deadline and outage tests; real time (timeScale 1)
 */
export const STALLED_BATCHES = {
  timeScale: 1,
  latencies: { linesPerSecond: 0.001, validation: 0.05 },
} as const;

export interface EmulatorProcess {
  url: string;
  origin: string;
  child: ChildProcess;
  state(): Promise<EmulatorState>;
  configure(patch: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export interface EmulatorState {
  queues: Record<string, { enqueued_tokens: number; limit: number | null }>;
  calls: Record<string, number>;
  batches: {
    id: string;
    status: string;
    metadata: Record<string, string> | null;
    input_file_id: string;
    input_sha256: string;
    estimated_tokens: number;
    request_counts: { total: number; completed: number; failed: number };
    errors: { code: string }[] | { data: { code: string }[] } | null;
  }[];
  files: { id: string; purpose: string; bytes: number; filename: string; sha256: string }[];
  counters: Record<string, number>;
}

/** the emulator's bin in its own process (it outlives a SIGKILLed batchpipe); 1000× time by default */
export async function startEmulatorProcess(config: Record<string, unknown> = {}): Promise<EmulatorProcess> {
  const configFile = path.join(tempDir("bp-emu-"), "emulator.json");
  fs.writeFileSync(configFile, JSON.stringify({ seed: 7, timeScale: 1000, ...config }));
  const child = spawn(process.execPath, [EMULATOR_BIN, "--port", "0", "--config", configFile], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  const origin = new URL(url).origin;
  return {
    url,
    origin,
    child,
    async state() {
      const res = await fetch(`${origin}/_emulator/state`);
      return (await res.json()) as EmulatorState;
    },
    async configure(patch) {
      await fetch(`${origin}/_emulator/config`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(patch),
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(force);
    },
  };
}

// --- datasets and pipelines ---

/** `count` records `{ id: "rec-<i>", text }` in `<dir>/data.jsonl` (or `file`) */
export function writeDataset(
  dir: string,
  count: number,
  options: { file?: string; text?: (i: number) => string; id?: (i: number) => string } = {},
): string {
  const file = path.join(dir, options.file ?? "data.jsonl");
  const fd = fs.openSync(file, "w");
  let chunk = "";
  for (let i = 1; i <= count; i++) {
    const id = options.id ? options.id(i) : `rec-${i}`;
    const text = options.text
      ? options.text(i)
      : `Review number ${i}: the product is ${i % 3 === 0 ? "bad" : "good"}.`;
    chunk += `${JSON.stringify({ id, text })}\n`;
    if (chunk.length > 1 << 16) {
      fs.writeSync(fd, chunk);
      chunk = "";
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  return file;
}

/** `count` records `{ id: "r<i>", text }` as JSONL text */
export function records(count: number, from = 1): string {
  let out = "";
  for (let i = from; i < from + count; i++) out += `${JSON.stringify({ id: `r${i}`, text: `hello ${i}` })}\n`;
  return out;
}

export interface PipelineOptions {
  baseUrl: string;
  /** default "test" */
  name?: string;
  /** provider lines beyond use/base_url */
  provider?: string[];
  /** the source block (YAML, indented by 2); default a jsonl source of ./<data> */
  source?: string;
  /** default data.jsonl */
  data?: string;
  /** the user message; default "Say: {{ text }}" */
  prompt?: string;
  /** max_tokens of every request; default none */
  maxTokens?: number;
  batch?: Record<string, string | number | boolean | null>;
  /**
   * the sink list items; default `- { use: jsonl, path: ./out/results.jsonl, fields: all }` (the
   * whole row: the suites check what the engine delivers; the sinks' tests check their default rows)
   */
  sinks?: string[];
  /** add `- { use: sqlite, path: ./out/results.db, table: results, columns: all }` to the sinks */
  sqlite?: boolean;
  /** default `- { use: jsonl, path: ./out/errors.jsonl }` */
  errors?: string[];
}

/** the end-to-end suites' pipeline: a sentiment prompt, 20 output tokens, results in jsonl and sqlite */
export const SENTIMENT = {
  name: "e2e",
  prompt: "Sentiment of: {{ text }}",
  maxTokens: 20,
  sqlite: true,
} as const satisfies Partial<PipelineOptions>;

/** writes `<dir>/pipeline.yaml`: a jsonl source, the prompt transform, jsonl sinks, polling every 50ms */
export function writePipeline(dir: string, o: PipelineOptions): string {
  const batch = { poll_interval: "50ms", ...o.batch };
  const sinks = o.sinks ?? ["- { use: jsonl, path: ./out/results.jsonl, fields: all }"];
  const lines = [
    "version: 1",
    `name: ${o.name ?? "test"}`,
    "provider:",
    "  use: openai",
    `  base_url: ${o.baseUrl}`,
    ...(o.provider ?? []).map((l) => `  ${l}`),
    "source:",
    o.source ?? `  { use: jsonl, path: ./${o.data ?? "data.jsonl"} }`,
    "transform:",
    "  use: prompt",
    "  endpoint: /v1/chat/completions",
    '  id: "{{ id }}"',
    "  body:",
    "    model: gpt-4o-mini",
    ...(o.maxTokens === undefined ? [] : [`    max_tokens: ${o.maxTokens}`]),
    `    messages: [{ role: user, content: "${o.prompt ?? "Say: {{ text }}"}" }]`,
    "batch:",
    ...Object.entries(batch).map(([k, v]) => `  ${k}: ${v === null ? "null" : v}`),
    "sinks:",
    ...[
      ...sinks,
      ...(o.sqlite ? ["- { use: sqlite, path: ./out/results.db, table: results, columns: all }"] : []),
    ].map((l) => `  ${l}`),
    "errors:",
    ...(o.errors ?? ["- { use: jsonl, path: ./out/errors.jsonl }"]).map((l) => `  ${l}`),
  ];
  const file = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** the API dialects of the emulator: the `openai` provider, or the `anthropic` one */
export type Dialect = "openai" | "anthropic";

/** both dialects' API keys, for a child's env */
export const DIALECT_KEYS = { OPENAI_API_KEY: "sk-test", ANTHROPIC_API_KEY: "sk-ant-test" };

/**
 * writes `<dir>/pipeline.yaml` against an emulator process in either dialect: the `openai` provider
 * and gpt-4o-mini, or the `anthropic` one and claude-haiku-4-5; a jsonl source of ./data.jsonl (as
 * writeDataset writes it), 16 output tokens, results in ./out/results.jsonl and, with `errors`,
 * failures in ./out/errors.jsonl; polling every 50ms unless `batch` says otherwise
 */
export function writeDialectPipeline(
  dir: string,
  o: {
    dialect: Dialect;
    emulator: Pick<EmulatorProcess, "url" | "origin">;
    name: string;
    batch: Record<string, string | number>;
    errors?: boolean;
  },
): string {
  const [provider, baseUrl, model] =
    o.dialect === "openai"
      ? ["openai", o.emulator.url, "gpt-4o-mini"]
      : ["anthropic", o.emulator.origin, "claude-haiku-4-5"];
  const batch = { poll_interval: "50ms", ...o.batch };
  const lines = [
    "version: 1",
    `name: ${o.name}`,
    "provider:",
    `  use: ${provider}`,
    `  base_url: ${baseUrl}`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    `  body: { model: ${model}, max_tokens: 16, messages: [{ role: user, content: "Say: {{ text }}" }] }`,
    "batch:",
    ...Object.entries(batch).map(([k, v]) => `  ${k}: ${v}`),
    "sinks:",
    "  - { use: jsonl, path: ./out/results.jsonl }",
    ...(o.errors ? ["errors:", "  - { use: jsonl, path: ./out/errors.jsonl }"] : []),
  ];
  const file = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/**
 * writes `<dir>/pipeline.yaml` for the in-process emulator (no separate process; it forgets its
 * batches when the run ends): a jsonl source of `source` (default ./inbox/), `{{ text }}` as the
 * prompt, results in `sinks` (flow items; default ./out/results.jsonl, every field) and, with
 * `errors`, failures in ./out/errors.jsonl
 */
export function writeEmulatorPipeline(
  dir: string,
  o: { name: string; source?: string; sinks?: string[]; errors?: boolean },
): string {
  const file = path.join(dir, "pipeline.yaml");
  const lines = [
    "version: 1",
    `name: ${o.name}`,
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: { use: jsonl, path: ${o.source ?? "./inbox/"} }`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    `sinks: [${(o.sinks ?? ["{ use: jsonl, path: ./out/results.jsonl, fields: all }"]).join(", ")}]`,
    ...(o.errors ? ["errors: [{ use: jsonl, path: ./out/errors.jsonl }]"] : []),
  ];
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/**
 * `batchpipe run --json` in a child process over one record, through the in-process emulator into
 * `sink` (a flow item), in a temp folder of its own
 */
export function runOneRecord(o: { name: string; sink: string; timeoutMs?: number }): Promise<ChildRun> {
  const dir = tempDir(`bp-${o.name}-`);
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":1,"text":"a"}\n');
  writeEmulatorPipeline(dir, { name: o.name, source: "./data.jsonl", sinks: [o.sink] });
  return batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: o.timeoutMs });
}

// --- the CLI and node scripts in child processes ---

export type CliEvent = { type: string; [key: string]: unknown };

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the JSON lines of stdout (`--json` events) */
  events: CliEvent[];
  ms: number;
}

export interface ChildOptions {
  cwd?: string;
  /** on top of process.env with OPENAI_API_KEY=sk-test and NO_COLOR=1; undefined removes a variable */
  env?: Record<string, string | undefined>;
  /** RunCliOptions.engine: the CLI then starts through the test-only entry (cli-child.mjs) */
  engine?: EngineTuning;
  /** called for each JSON event line, e.g. to signal the child (see signalOnce) */
  onEvent?(event: CliEvent, child: ChildProcess): void;
  /** called with all of stderr so far, each time more arrives */
  onStderr?(stderr: string, child: ChildProcess): void;
  /** SIGKILL after this long, a safety net (the test then fails on the signal); default 120 s */
  timeoutMs?: number;
  /** run the child as this user (tests run as root, whom file permissions do not stop) */
  uid?: number;
  gid?: number;
}

export interface RunningChild {
  child: ChildProcess;
  /** the JSON events so far */
  events: CliEvent[];
  stdout(): string;
  stderr(): string;
  done: Promise<ChildRun>;
}

/** `batchpipe <args>` in a child process, running */
export function startBatchpipe(args: string[], o: ChildOptions = {}): RunningChild {
  const entry = o.engine ? [CLI_CHILD, JSON.stringify(o.engine)] : [CLI_BIN];
  return startNode([...entry, ...args], o);
}

/** `batchpipe <args>` in a child process, to its end */
export function batchpipe(args: string[], o: ChildOptions = {}): Promise<ChildRun> {
  return startBatchpipe(args, o).done;
}

/** node with `args` (a script and its arguments) to its end */
export function runNode(args: string[], o: ChildOptions = {}): Promise<ChildRun> {
  return startNode(args, o).done;
}

/**
 * The environment of every child: process.env, OPENAI_API_KEY=sk-test, NO_COLOR=1, then `extra`.
 * Without the NODE_PATH `pnpm exec` sets (it lists every package of the workspace), so a child
 * resolves packages the way it would in a user's project; without its npm_command=exec and user
 * agent, so a child prints commands as for batchpipe on the PATH (`batchpipe run`, not
 * `pnpm exec batchpipe run`) however vitest was started.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_PATH: undefined,
    npm_command: undefined,
    npm_config_user_agent: undefined,
    OPENAI_API_KEY: "sk-test",
    NO_COLOR: "1",
    FORCE_COLOR: undefined,
    ...extra,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env as NodeJS.ProcessEnv;
}

/** send `signal` to `child` once (after `delayMs`), and nothing after a SIGKILL */
export function signalOnce(child: ChildProcess, signal: NodeJS.Signals, delayMs = 0): void {
  const sent = signalsSent.get(child) ?? new Set();
  signalsSent.set(child, sent);
  if (sent.has(signal) || sent.has("SIGKILL")) return;
  sent.add(signal);
  if (delayMs > 0) setTimeout(() => child.kill(signal), delayMs);
  else child.kill(signal);
}

/** `batchpipe watch pipeline.yaml --json` (settle 1.5 s, coalesce 300 ms); `killWhen` SIGKILLs it */
export function startWatcher(
  dir: string,
  killWhen?: (event: CliEvent) => boolean,
  extra: string[] = [],
): RunningChild {
  const settle = extra.includes("--settle") ? [] : ["--settle", "1500ms"];
  return startBatchpipe(["watch", "pipeline.yaml", "--json", ...settle, "--coalesce", "300ms", ...extra], {
    cwd: dir,
    timeoutMs: 600_000,
    onEvent: (event, child) => {
      if (killWhen?.(event)) signalOnce(child, "SIGKILL");
    },
  });
}

// --- the CLI in this process ---

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `batchpipe <args>` in this process through runCli, output captured; `env` is all it sees */
export async function cli(
  args: string[],
  o: { cwd?: string; env?: Record<string, string | undefined>; engine?: EngineTuning } = {},
): Promise<CliResult> {
  const { runCli } = await import("../../src/run-cli.js");
  const out = { code: 0, stdout: "", stderr: "" };
  out.code = await runCli(args, {
    cwd: o.cwd,
    env: o.env ?? {},
    engine: o.engine,
    io: {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
    },
  });
  return out;
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// --- what the sinks wrote, what the emulator saw ---

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

export function readSqliteIds(file: string, table = "results"): string[] {
  return querySqlite<{ id: string }>(file, `SELECT id FROM ${table}`).map((r) => r.id);
}

/** the rows of a query on a SQLite file, opened read-only */
export function querySqlite<T = Record<string, unknown>>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** every expected id exactly once: what is missing, duplicated or extra */
export function checkExactlyOnce(
  ids: string[],
  expected: Iterable<string>,
): { missing: string[]; duplicated: string[]; extra: string[] } {
  const counts = idCounts(ids.map((id) => ({ id })));
  const want = new Set(expected);
  return {
    missing: [...want].filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    extra: [...counts.keys()].filter((id) => !want.has(id)),
  };
}

/** the result ids in the jsonl and the sqlite sink of a pipeline written with `sqlite: true` */
export function sinkIds(dir: string): { jsonl: string[]; sqlite: string[] } {
  return {
    jsonl: readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id),
    sqlite: readSqliteIds(path.join(dir, "out/results.db")),
  };
}

/** every expected id exactly once in both sinks (ONCE when so) */
export function exactlyOnceInSinks(dir: string, expected: string[]) {
  const ids = sinkIds(dir);
  return { jsonl: checkExactlyOnce(ids.jsonl, expected), sqlite: checkExactlyOnce(ids.sqlite, expected) };
}

export const ONCE = {
  jsonl: { missing: [], duplicated: [], extra: [] },
  sqlite: { missing: [], duplicated: [], extra: [] },
};

/** ids written to a sink, with how often each occurs */
export function idCounts(rows: { id: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.id, (counts.get(row.id) ?? 0) + 1);
  return counts;
}

/** the JSONL sink `file` holds exactly `n` distinct ids, each once */
export function expectEachOnce(file: string, n: number): void {
  const counts = idCounts(readJsonl<{ id: string }>(file));
  expect(counts.size).toBe(n);
  expect([...counts.entries()].filter(([, c]) => c !== 1)).toEqual([]);
}

/** the report of the run_finished event */
export function report(run: ChildRun): Record<string, unknown> | undefined {
  const event = run.events.find((e) => e.type === "run_finished");
  return event?.report as Record<string, unknown> | undefined;
}

/** files under `dir` (recursively) that contain `needle`, e.g. to grep a state folder for a secret */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const bytes = Buffer.from(needle);
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && fs.readFileSync(p).includes(bytes)) hits.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return hits;
}

/** an in-process emulator's batches of one pipeline name (from their metadata) */
export function batchesOf(emu: Emulator, name: string) {
  return emu.state().batches.filter((b) => b.metadata?.batchpipe_name === name);
}

/** the custom_ids of an uploaded batch input file, read back from the emulator */
export async function fileIds(emulator: { url: string }, fileId: string): Promise<string[]> {
  const res = await fetch(`${emulator.url}/files/${fileId}/content`, {
    headers: { authorization: "Bearer sk-test" },
  });
  return (await res.text())
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
}

/** batches that are real submissions (not refused by the queue) sharing an input digest */
export function duplicateSubmissions(state: EmulatorState): string[] {
  const seen = new Map<string, string>();
  const duplicates: string[] = [];
  for (const b of state.batches) {
    if (b.status === "failed" && batchErrorCodes(b).includes("token_limit_exceeded")) continue;
    const other = seen.get(b.input_sha256);
    if (other) duplicates.push(`${other} & ${b.id}`);
    else seen.set(b.input_sha256, b.id);
  }
  return duplicates;
}

export function batchErrorCodes(b: EmulatorState["batches"][number]): string[] {
  const errors = b.errors;
  if (!errors) return [];
  const list = Array.isArray(errors) ? errors : (errors.data ?? []);
  return list.map((e) => e.code);
}

// --- internal ---

const signalsSent = new WeakMap<ChildProcess, Set<NodeJS.Signals>>();

function startNode(args: string[], o: ChildOptions): RunningChild {
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: o.cwd,
    env: childEnv(o.env),
    stdio: ["ignore", "pipe", "pipe"],
    uid: o.uid,
    gid: o.gid,
  });
  const run: ChildRun = { code: null, signal: null, stdout: "", stderr: "", events: [], ms: 0 };
  const timer = setTimeout(() => signalOnce(child, "SIGKILL"), o.timeoutMs ?? 120_000);
  readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    run.stdout += `${line}\n`;
    if (!line.startsWith("{")) return;
    let event: CliEvent;
    try {
      event = JSON.parse(line) as CliEvent;
    } catch {
      return;
    }
    run.events.push(event);
    o.onEvent?.(event, child);
  });
  child.stderr!.on("data", (d) => {
    run.stderr += d;
    o.onStderr?.(run.stderr, child);
  });
  const done = new Promise<ChildRun>((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      run.code = code;
      run.signal = signal;
      run.ms = Date.now() - started;
      resolve(run);
    });
  });
  return { child, events: run.events, stdout: () => run.stdout, stderr: () => run.stderr, done };
}
