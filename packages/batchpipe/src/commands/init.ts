/**
 * `batchpipe init [folder]`: a pipeline that runs at once — a commented pipeline.yaml on the
 * emulator provider, a small data file, and a .gitignore entry for the state folder. It never
 * overwrites a file.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { shellArg } from "./pipeline-args.js";

export default defineCommand({
  meta: {
    name: "init",
    description: "Write a commented pipeline.yaml and sample data that run at once (no key)",
  },
  args: {
    folder: { type: "positional", required: false, description: "Where to write them (default: here)" },
  },
  async run(context) {
    const { io, cwd, cli } = cliContext(context);
    const dir = path.resolve(cwd, context.args.folder ?? ".");
    const blocking = fileInTheWay(dir);
    if (blocking)
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `${path.relative(cwd, blocking) || blocking} is a file, not a folder`,
        {
          hint: `Name a new or existing folder, e.g. \`${cli} init my-pipeline\`.`,
        },
      );
    const spec = path.join(dir, "pipeline.yaml");
    const data = path.join(dir, "data.jsonl");
    for (const file of [spec, data]) {
      if (fs.existsSync(file))
        throw new BatchpipeError(ErrorCodes.USAGE, `${file} exists; init never overwrites a file`, {
          hint: `Run it in an empty folder, e.g. \`${cli} init my-pipeline\`.`,
        });
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(spec, pipelineYaml(slug(path.basename(dir))));
    fs.writeFileSync(data, SAMPLE.map((record) => `${JSON.stringify(record)}\n`).join(""));
    const ignored = addToGitignore(path.join(dir, ".gitignore"), [".batchpipe/", "out/"]);
    const shown = path.relative(cwd, dir) || ".";
    const specArg = shellArg(path.relative(cwd, spec));
    io.stdout.write(
      [
        `✔ wrote ${path.relative(cwd, spec)}, ${path.relative(cwd, data)} (${SAMPLE.length} records)${ignored ? ` and ${path.join(shown, ".gitignore")}` : ""}`,
        "",
        "next:",
        `  ${cli} plan ${specArg}   # what it would send and cost`,
        `  ${cli} run ${specArg}    # run it against the built-in emulator (no key, no network)`,
        "then, to run it for real: replace `provider` with `{ use: openai }`, delete the line `poll_interval: 200ms` (the default polls every 30s) and set OPENAI_API_KEY.",
        "",
      ].join("\n"),
    );
    return ExitCode.OK;
  },
});

/** the folder itself, or the nearest folder above it, when it is a file (mkdir would fail on it) */
function fileInTheWay(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    const stat = statOrUndefined(at);
    if (stat) return stat.isDirectory() ? undefined : at;
    if (path.dirname(at) === at) return undefined;
  }
}

/** undefined when nothing is there, or when a file above it is (ENOTDIR) */
function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw error;
  }
}

/** appends the entries the file lacks; true when it wrote something */
function addToGitignore(file: string, entries: string[]): boolean {
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const have = new Set(text.split(/\r?\n/).map((line) => line.trim()));
  const missing = entries.filter((entry) => !have.has(entry) && !have.has(entry.replace(/\/$/, "")));
  if (missing.length === 0) return false;
  const lead = text === "" || text.endsWith("\n") ? "" : "\n";
  fs.appendFileSync(
    file,
    `${lead}# batchpipe: run state (shard files hold full prompts) and outputs\n${missing.join("\n")}\n`,
  );
  return true;
}

function slug(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^[-_]+/, "")
    .slice(0, 64);
  return cleaned || "my-pipeline";
}

const SAMPLE = [
  { id: "q1", text: "The blender is loud but crushes ice in seconds." },
  { id: "q2", text: "Stopped working after two weeks; support never answered." },
  { id: "q3", text: "Exactly as pictured. Arrived a day early." },
  { id: "q4", text: "It's fine. Does what it says." },
  { id: "q5", text: "The strap broke the first time I used it." },
];

/** the name as a YAML scalar: quoted when YAML would read it as a number, a boolean or null (a folder named 2024) */
function yamlName(name: string): string {
  return /^[A-Za-z]/.test(name) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(name) ? name : `"${name}"`;
}

function pipelineYaml(name: string): string {
  return `# A batchpipe pipeline: every record of the source becomes one request to a batch API, and every
# result reaches every sink exactly once. Check it with \`batchpipe validate pipeline.yaml\`, see what it
# would cost with \`batchpipe plan pipeline.yaml\`, run it with \`batchpipe run pipeline.yaml\`.
version: 1
name: ${yamlName(name)} # keys the run state (.batchpipe/${name}/) and tags the batches at the provider

provider:
  use: emulator # a local OpenAI Batch API emulator: no key, no network, answers in seconds
  emulator:
    timeScale: 3600 # one emulated hour per second
  # To run for real: use: openai, with OPENAI_API_KEY set in the environment (never in this file).

source:
  use: jsonl # one JSON object per line; also folders, globs and .jsonl.gz
  path: ./data.jsonl

transform: # turns a record into a request; {{ field }} is a LiquidJS template over the record
  use: prompt
  endpoint: /v1/chat/completions
  id: "{{ id }}" # each request's custom_id: unique per record
  body:
    model: gpt-4o-mini
    temperature: 0
    max_tokens: 20
    messages:
      - { role: system, content: "Classify the sentiment of the review as positive, negative or neutral. Answer with one word." }
      - { role: user, content: "{{ text }}" }

batch:
  poll_interval: 200ms # the emulator is fast; against a real provider keep the default (30s)
  # max_cost: 5 # US dollars: refuse to submit past this estimated cost

sinks: # where successes go, each exactly once
  - { use: jsonl, path: ./out/results.jsonl }
  # - { use: sqlite, path: ./out/results.db, table: results }

errors: # where final failures go, with their code
  - { use: jsonl, path: ./out/errors.jsonl }
`;
}
