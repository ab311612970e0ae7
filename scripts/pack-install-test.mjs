// The pack-and-install test: what a user gets from `npm i batchpipe`, checked without publishing.
// Packs every publishable package with `pnpm pack`, checks each tarball (no workspace: ranges, the
// files its exports and bin name, README and LICENSE, no build info), installs the tarballs with
// npm into an empty project outside the workspace, runs `npx batchpipe run` there on a pipeline
// against the built-in emulator and checks every id is in both sinks once. A strict TypeScript
// project (strict, module nodenext, no skipLibCheck) that imports every public entry point compiles
// there: our .d.ts files need no type package the user would have to add. An app that depends on
// `batchpipe` alone, laid out as pnpm lays it out (only `batchpipe` in its node_modules, the
// @batchpipe/* packages beside batchpipe's real folder), type-checks every ts sample of
// docs/programmatic-api.md with what a library user imports (batchpipe/testing too), and runs its js samples (ESM), a
// CommonJS app and a spec whose plugin file imports batchpipe/plugin.
// Usage: pnpm build && node scripts/pack-install-test.mjs   (run by .ci/run after the tests)
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const RECORDS = 12;
const started = Date.now();
const timings = [];

const work = fs.mkdtempSync(path.join(os.tmpdir(), "batchpipe-pack-install-"));
const tarballs = path.join(work, "tarballs");
const project = path.join(work, "project");
fs.mkdirSync(tarballs);
fs.mkdirSync(project);
if (isInside(project, ROOT)) fail(`the test project ${project} is inside the workspace ${ROOT}`);

try {
  const packed = step("pack", packAll);
  step("check tarballs", () => {
    for (const tarball of packed) checkTarball(tarball);
  });
  step("npm install", () => {
    run("npm", ["init", "-y"], { cwd: project });
    run("npm", ["install", "--no-audit", "--no-fund", ...packed], { cwd: project });
    checkInstalledFromTarballs(packed);
  });
  step("strict tsc", () => typecheckConsumer());
  step("npx batchpipe run", () => runPipeline());
  step("batchpipe-only app", () => checkBatchpipeOnlyApp());
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`✓ pack-install: ${packed.length} packages packed, installed and run in ${seconds} s`);
  say(`  ${timings.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(", ")}`);
  fs.rmSync(work, { recursive: true, force: true });
} catch (error) {
  process.stderr.write(`✖ pack-install: ${error.message}\n  (left for inspection: ${work})\n`);
  process.exitCode = 1;
}

/** every package under packages/ that is not private, packed into `tarballs` */
function packAll() {
  const dirs = fs
    .readdirSync(path.join(ROOT, "packages"))
    .map((name) => path.join(ROOT, "packages", name))
    .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
    .filter((dir) => !readJson(path.join(dir, "package.json")).private);
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(dir, "dist"))) fail(`${dir} has no dist/: run pnpm build first`);
    run("pnpm", ["pack", "--pack-destination", tarballs], { cwd: dir });
  }
  const files = fs.readdirSync(tarballs).map((file) => path.join(tarballs, file));
  if (files.length !== dirs.length) fail(`packed ${dirs.length} packages but found ${files.length} tarballs`);
  return files;
}

function checkTarball(tarball) {
  const name = path.basename(tarball);
  const listing = new Set(
    execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((entry) => entry.replace(/^package\//, "")),
  );
  const manifestText = execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" });
  const manifest = JSON.parse(manifestText);
  const problems = [];
  if (manifestText.includes("workspace:")) problems.push("a workspace: range is left in package.json");
  for (const file of ["README.md", "LICENSE"]) if (!listing.has(file)) problems.push(`no ${file}`);
  if (!manifest.license) problems.push("no license field");
  if (!manifest.types) problems.push("no types field");
  for (const entry of listing) if (/tsbuildinfo|(^|\/)test\//.test(entry)) problems.push(`ships ${entry}`);
  const targets = [...exportTargets(manifest.exports), ...Object.values(manifest.bin ?? {})];
  for (const target of targets) {
    const file = target.replace(/^\.\//, "");
    if (!listing.has(file)) problems.push(`${target} (exports or bin) is not in the tarball`);
  }
  if (problems.length > 0) fail(`${name}: ${problems.join("; ")}`);
}

/** each of our packages installed once, from its tarball (never a registry copy of the same name) */
function checkInstalledFromTarballs(packed) {
  const names = packed.map(
    (tarball) =>
      JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })).name,
  );
  const lock = readJson(path.join(project, "package-lock.json"));
  for (const name of names) {
    const copies = Object.entries(lock.packages).filter(([key]) => key.endsWith(`node_modules/${name}`));
    const resolved = copies.map(([, entry]) => entry.resolved ?? "");
    if (copies.length !== 1 || !resolved[0].startsWith("file:"))
      fail(`${name} is installed as ${JSON.stringify(resolved)}, not once from its tarball`);
  }
}

function exportTargets(exports) {
  if (typeof exports === "string") return [exports];
  if (exports === null || typeof exports !== "object") return [];
  return Object.values(exports).flatMap(exportTargets);
}

function runPipeline() {
  const ids = Array.from({ length: RECORDS }, (_, i) => `rec-${i + 1}`);
  fs.writeFileSync(
    path.join(project, "data.jsonl"),
    ids.map((id, i) => `${JSON.stringify({ id, text: `review ${i + 1}: it works` })}\n`).join(""),
  );
  fs.writeFileSync(
    path.join(project, "pipeline.yaml"),
    [
      "version: 1",
      "name: pack-install",
      "provider: { use: emulator }",
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, max_tokens: 20, messages: [{ role: user, content: "Sentiment: {{ text }}" }] }',
      "batch: { poll_interval: 200ms }",
      "sinks:",
      "  - { use: jsonl, path: ./out/results.jsonl }",
      "  - { use: sqlite, path: ./out/results.db, table: results }",
      "",
    ].join("\n"),
  );
  const version = run("npx", ["--no-install", "batchpipe", "--version"], { cwd: project });
  if (!/^batchpipe \d+\.\d+\.\d+/.test(version))
    fail(`batchpipe --version printed ${JSON.stringify(version)}`);
  const output = run("npx", ["--no-install", "batchpipe", "run", "pipeline.yaml"], { cwd: project });
  if (!new RegExp(`succeeded +${RECORDS}\\b`).test(output))
    fail(`the run's report is not as expected:\n${output}`);
  const jsonl = fs
    .readFileSync(path.join(project, "out/results.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line).id);
  // better-sqlite3 as the project installed it (built there if no prebuilt binary was at hand)
  const Database = createRequire(path.join(project, "package.json"))("better-sqlite3");
  const db = new Database(path.join(project, "out/results.db"), { readonly: true });
  const sqlite = db
    .prepare("SELECT id FROM results")
    .all()
    .map((row) => row.id);
  db.close();
  for (const [sink, found] of [
    ["jsonl", jsonl],
    ["sqlite", sqlite],
  ]) {
    const sorted = [...found].sort();
    if (JSON.stringify(sorted) !== JSON.stringify([...ids].sort()))
      fail(`the ${sink} sink does not hold every id once: ${JSON.stringify(sorted)}`);
  }
}

/** a consumer's strict `tsc --noEmit` over every public entry point, with the workspace's TypeScript */
function typecheckConsumer() {
  const dir = path.join(project, "strict-ts");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  fs.writeFileSync(
    path.join(dir, "consumer.ts"),
    [
      'import { runCli } from "batchpipe";',
      'import { BatchRunner, runSpec } from "@batchpipe/core";',
      'import { defineSink, z } from "@batchpipe/core/plugin";',
      'import { testSink } from "@batchpipe/core/testing";',
      "export const used = [runCli, BatchRunner, runSpec, defineSink, z, testSink];",
      "",
    ].join("\n"),
  );
  typecheck(dir, ["consumer.ts"]);
}

/**
 * An app whose node_modules holds `batchpipe` only (a link to the installed one, as pnpm links a
 * direct dependency): @batchpipe/core cannot be imported from it, so it must get from `batchpipe`
 * what the docs import.
 */
function checkBatchpipeOnlyApp() {
  const app = path.join(work, "app");
  fs.mkdirSync(path.join(app, "node_modules"), { recursive: true });
  fs.symlinkSync(
    path.join(project, "node_modules/batchpipe"),
    path.join(app, "node_modules/batchpipe"),
    "dir",
  );
  const manifest = { type: "module", private: true, dependencies: { batchpipe: "0.1.0" } };
  fs.writeFileSync(path.join(app, "package.json"), `${JSON.stringify(manifest)}\n`);
  const strict = spawnSync(process.execPath, ["-e", 'require.resolve("@batchpipe/core")'], { cwd: app });
  if (strict.status === 0) fail(`${app} can import @batchpipe/core: the layout is not strict`);

  // every fenced sample of the doc: ts ones type-checked, js ones run
  const doc = fs.readFileSync(path.join(ROOT, "docs/programmatic-api.md"), "utf8");
  const samples = [...doc.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map(([, lang, code]) => ({
    lang,
    code,
  }));
  const tsFiles = ["consumer.ts"];
  const jsFiles = [];
  samples.forEach(({ lang, code }, i) => {
    const file = `doc-sample-${i + 1}.${lang === "ts" ? "ts" : "mjs"}`;
    fs.writeFileSync(path.join(app, file), code);
    (lang === "ts" ? tsFiles : jsFiles).push(file);
  });
  fs.writeFileSync(
    path.join(app, "consumer.ts"),
    [
      "import {",
      "  type BatchErrorItem, type BatchInputItem, type BatchItemError, type BatchOutputItem,",
      "  BatchpipeError, BatchRunner, type BatchRunnerRunOptions, type DaemonInfo, type DetachedRun,",
      "  type EngineEvent, type ErrorCode, ErrorCodes, isBatchpipeError, officialPlugins,",
      "  type PipelineSpec, type PluginRegistry, readDaemon, resolveSpec, type RunReport, type RunResult,",
      "  runSpec, type RunSpecOptions, stopDaemon, type WorkConfig,",
      '} from "batchpipe";',
      'import { defineSink, defineSource, defineTransform, type ResultRow, type SinkPlugin, z } from "batchpipe/plugin";',
      'import { type ConformanceCheck, testProvider, testSink, testSource } from "batchpipe/testing";',
      "export type Types = [BatchErrorItem, BatchInputItem, BatchItemError, BatchOutputItem, BatchRunnerRunOptions,",
      "  DaemonInfo, DetachedRun, EngineEvent, ErrorCode, PipelineSpec, PluginRegistry, RunReport, RunResult,",
      "  RunSpecOptions, WorkConfig, ResultRow, SinkPlugin, ConformanceCheck];",
      "export const values = [BatchpipeError, BatchRunner, ErrorCodes, isBatchpipeError, officialPlugins, readDaemon,",
      "  resolveSpec, runSpec, stopDaemon, defineSink, defineSource, defineTransform, z, testSink, testSource, testProvider];",
      "",
    ].join("\n"),
  );
  typecheck(app, tsFiles);

  fs.copyFileSync(path.join(ROOT, "examples/programmatic/data.jsonl"), path.join(app, "data.jsonl"));
  for (const file of jsFiles) {
    const output = run(process.execPath, [file], { cwd: app });
    if (!/^completed: /m.test(output))
      fail(`${file} (a sample of docs/programmatic-api.md) printed:\n${output}`);
  }
  fs.writeFileSync(
    path.join(app, "app.cjs"),
    `const { runSpec } = require("batchpipe");
const { defineSource, z } = require("batchpipe/plugin");
const numbers = defineSource({
  name: "numbers",
  options: z.strictObject({}),
  async *read() {
    for (let i = 1; i <= 3; i++) yield { data: { id: "n" + i }, position: { file: "numbers", line: i }, cursor: i };
  },
});
runSpec(
  {
    version: 1,
    name: "commonjs-app",
    provider: { use: "emulator", emulator: { timeScale: 3600 } },
    source: { use: numbers },
    transform: { id: "{{ id }}", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ id }}" }] } },
    batch: { poll_interval: "200ms" },
    sinks: [{ use: "jsonl", path: "./out/cjs.jsonl" }],
  },
  { dir: __dirname },
).then((result) => console.log(result.status, result.report.succeeded));
`,
  );
  const output = run(process.execPath, ["app.cjs"], { cwd: app }).trim();
  if (output !== "completed 3") fail(`the CommonJS app printed ${JSON.stringify(output)}, not "completed 3"`);

  // a plugin file of the project (loaded with jiti) imports the plugin API from batchpipe/plugin
  fs.mkdirSync(path.join(app, "plugins"));
  fs.writeFileSync(
    path.join(app, "plugins/numbers.ts"),
    `import { defineSource, z } from "batchpipe/plugin";
export default defineSource({
  name: "numbers",
  options: z.strictObject({ count: z.number() }),
  async *read({ options }) {
    for (let i = 1; i <= options.count; i++) yield { data: { id: \`n\${i}\` }, position: { file: "numbers", line: i }, cursor: i };
  },
});
`,
  );
  fs.writeFileSync(
    path.join(app, "pipeline.yaml"),
    [
      "version: 1",
      "name: plugin-file",
      "provider: { use: emulator }",
      "source: { use: ./plugins/numbers.ts, count: 3 }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ id }}" }] }',
      "batch: { poll_interval: 200ms }",
      "sinks: [{ use: jsonl, path: ./out/plugin-file.jsonl }]",
      "",
    ].join("\n"),
  );
  const bin = path.join(app, "node_modules/batchpipe/bin/batchpipe.js");
  const report = run(process.execPath, [bin, "run", "pipeline.yaml"], { cwd: app });
  if (!/succeeded +3\b/.test(report))
    fail(`a spec with a plugin file importing batchpipe/plugin:\n${report}`);
}

/** `tsc --noEmit` over `files` in `dir`, strict, with the workspace's TypeScript and @types/node */
function typecheck(dir, files) {
  const compilerOptions = {
    strict: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2022",
    skipLibCheck: false,
    noEmit: true,
    types: ["node"],
    // @types/node from the workspace: the project has no type packages of its own
    typeRoots: [path.join(ROOT, "node_modules/@types")],
  };
  fs.writeFileSync(
    path.join(dir, "tsconfig.json"),
    `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`,
  );
  run(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", dir], { cwd: dir });
}

function run(command, args, options) {
  // no NODE_PATH: `pnpm exec` would point it at every package of the workspace
  const env = { ...process.env, NO_COLOR: "1" };
  delete env.NODE_PATH;
  const result = spawnSync(command, args, { ...options, env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    fail(
      `${command} ${args.join(" ")} exited ${result.status ?? result.signal}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

function step(name, fn) {
  const at = Date.now();
  const value = fn();
  timings.push([name, Date.now() - at]);
  return value;
}

function isInside(dir, parent) {
  const relative = path.relative(fs.realpathSync(parent), fs.realpathSync(dir));
  return !relative.startsWith("..") && !path.isAbsolute(relative);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

function say(text) {
  process.stdout.write(`${text}\n`);
}

function fail(message) {
  throw new Error(message);
}
