/**
 * Checks of a loaded pipeline against the machine, before a single record is read: each plugin's
 * `check` hook declares what it reads and writes and what it lacks (a key); here those paths are
 * looked at (inputs exist, output folders are writable) and compared (two writers on one file, a
 * sink on the source's input or inside the state folder), and so are the non-file targets plugins
 * write (two writers on one database table). Every problem is reported at once, at the spec entry
 * it comes from, as one SPEC_INVALID error.
 */
import fs from "node:fs";
import path from "node:path";
import { globMatchesAFile, STDIN_PATH } from "../input-files.js";
import type { Plugin, PluginCheck, PluginPath } from "../plugin.js";
import type { Env } from "./interpolate.js";
import type { SpecIssue, SpecPath } from "./issues.js";
import { type Pipeline, specTextOf } from "./load.js";
import { locateIssues, specError } from "./locate.js";
import type { ResolvedPlugin } from "./plugin-slots.js";

export interface CheckPipelineOptions {
  /** the environment the run gets (API keys); default process.env */
  env?: Env;
  /** the run's state folder; default .batchpipe/<name> beside the spec */
  stateDir?: string;
  /** a source's glob may match no file yet (watch mode waits for files) */
  allowEmptyGlobs?: boolean;
  /** the command calls no provider (`plan`): the provider's check (its API key) is not asked */
  offline?: boolean;
}

/** Throws a SPEC_INVALID error listing every problem found; I/O is a few stat calls. */
export function checkPipeline(pipeline: Pipeline, options: CheckPipelineOptions = {}): void {
  const issues = pipelineIssues(pipeline, options);
  if (issues.length === 0) return;
  const name = pipeline.file ?? "the pipeline spec";
  throw specError(locateIssues(issues, specTextOf(pipeline), pipeline.file), name);
}

// --- internal ---

interface Declared {
  entry: ResolvedPlugin<Plugin>;
  at: PluginPath & { canonical: string };
}

function pipelineIssues(pipeline: Pipeline, options: CheckPipelineOptions): SpecIssue[] {
  const env = options.env ?? process.env;
  const stateDir = canonical(
    path.resolve(options.stateDir ?? path.join(pipeline.dir, ".batchpipe", pipeline.spec.name)),
  );
  const entries: ResolvedPlugin<Plugin>[] = [
    ...(options.offline ? [] : [pipeline.provider]),
    pipeline.source,
    pipeline.transform,
    ...pipeline.sinks,
    ...pipeline.errors,
  ];
  const issues: SpecIssue[] = [];
  const reads: Declared[] = [];
  const writes: Declared[] = [];
  const targets: Declared[] = [];
  // a spec object (runSpec) has no file: its paths are relative to the `dir` it was given
  const relative = pipeline.file
    ? "it is relative to the spec file"
    : `it is relative to the spec's dir (${pipeline.dir}; runSpec's \`dir\` option, default the current folder)`;
  for (const entry of entries) {
    const answer = runCheck(entry, pipeline, env, issues);
    for (const problem of answer.problems ?? [])
      issues.push({
        path: problem.option ? [...entry.path, problem.option] : entry.path,
        message: problem.message,
        hint: problem.hint,
      });
    // standard input is there by definition, and no sink can write to it
    for (const at of answer.reads ?? []) {
      if (at.glob) {
        if (!options.allowEmptyGlobs && !fs.existsSync(at.path) && !globMatchesAFile(at.path))
          issues.push({
            path: [...entry.path, at.option],
            message: `no file matches the glob ${at.path}`,
            hint: `check the path; ${relative} (batchpipe watch starts without files and waits for them)`,
          });
      } else if (at.path !== STDIN_PATH) reads.push({ entry, at: { ...at, canonical: canonical(at.path) } });
    }
    for (const at of answer.writes ?? [])
      writes.push({ entry, at: { ...at, canonical: canonical(at.path) } });
    // a target is no path: it compares as the plugin wrote it
    for (const at of answer.targets ?? [])
      targets.push({
        entry,
        at: { path: at.target, option: at.option, part: at.part, canonical: at.target },
      });
  }
  for (const read of reads) {
    if (!fs.existsSync(read.at.path))
      issues.push(pathIssue(read, `no such file or folder: ${read.at.path}`, `check the path; ${relative}`));
  }
  for (const [index, write] of writes.entries()) {
    const problem =
      clash(write, writes.slice(0, index)) ??
      readClash(write, reads) ??
      stateClash(write, stateDir) ??
      unwritable(write.at.path);
    if (problem) issues.push(pathIssue(write, problem.message, problem.hint));
  }
  for (const [index, target] of targets.entries()) {
    const problem = clash(target, targets.slice(0, index), "target");
    if (problem) issues.push(pathIssue(target, problem.message, problem.hint));
  }
  return issues;
}

/** a plugin's answer; a hook that throws is a problem of that plugin, not a crash */
function runCheck(
  entry: ResolvedPlugin<Plugin>,
  pipeline: Pipeline,
  env: Env,
  issues: SpecIssue[],
): PluginCheck {
  const check = (entry.plugin as { check?: unknown }).check;
  if (typeof check !== "function") return {};
  try {
    const answer = check.call(entry.plugin, {
      options: entry.options,
      resolvePath: pipeline.resolvePath,
      env,
    });
    if (typeof (answer as PromiseLike<unknown> | null)?.then === "function") {
      // an async check(): its answer never comes in time, and its rejection would crash the process
      Promise.resolve(answer).catch(() => {});
      issues.push({
        path: [...entry.path, "use"],
        message: `the ${entry.plugin.kind} plugin "${entry.plugin.name}" returned a Promise from check(): it must return its answer itself`,
        hint: "check() is synchronous and must not do I/O: make it a plain function that looks at the options (and paths); reach a server in open(), which may be async",
      });
      return {};
    }
    return answer !== null && typeof answer === "object" ? (answer as PluginCheck) : {};
  } catch (error) {
    issues.push({
      path: [...entry.path, "use"],
      message: `the ${entry.plugin.kind} plugin "${entry.plugin.name}" failed in check(): ${(error as Error)?.message ?? String(error)}`,
      hint: "check() must be pure and must not throw: fix the plugin",
    });
    return {};
  }
}

function pathIssue(declared: Declared, message: string, hint: string): SpecIssue {
  const at: SpecPath = [...declared.entry.path, declared.at.option];
  return { path: at, message, hint };
}

type Problem = { message: string; hint: string };

/** the same file or target (or the same part of it) written by an earlier entry */
function clash(write: Declared, earlier: Declared[], what: "file" | "target" = "file"): Problem | undefined {
  const other = earlier.find(
    (o) =>
      o.at.canonical === write.at.canonical &&
      (o.at.part === undefined || write.at.part === undefined || o.at.part === write.at.part),
  );
  if (!other) return undefined;
  const both = write.at.part !== undefined && other.at.part !== undefined;
  return {
    message: both
      ? `${label(other)} already writes "${write.at.part}" in ${write.at.path}`
      : `${label(other)} already writes ${write.at.path}`,
    hint: both
      ? what === "file"
        ? "give each sink its own table (or file)"
        : "give each sink (and each errors entry) its own table: two writers on one table overwrite each other's rows"
      : `give each sink (and each errors entry) its own ${what}: two writers on one ${what} overwrite each other`,
  };
}

/** a sink on the source's input, or inside a folder the source reads */
function readClash(write: Declared, reads: Declared[]): Problem | undefined {
  const read = reads.find((r) => isInside(write.at.canonical, r.at.canonical));
  if (!read) return undefined;
  return {
    message: `${label(read)} reads ${read.at.path}: this sink would write over (or feed back into) its input`,
    hint: "write the output somewhere the source does not read",
  };
}

/** the state folder is batchpipe's; only the default errors file lives there */
function stateClash(write: Declared, stateDir: string): Problem | undefined {
  if (!isInside(write.at.canonical, stateDir)) return undefined;
  if (write.at.canonical === path.join(stateDir, "errors.jsonl")) return undefined;
  return {
    message: `${write.at.path} is inside the state folder ${stateDir}`,
    hint: "the state folder belongs to batchpipe: write the output elsewhere",
  };
}

/** the file, or the nearest folder that exists on its way, cannot be written */
function unwritable(file: string): Problem | undefined {
  const hint = "choose an output path in a folder you can write to";
  const stat = statOf(file);
  if (stat?.isDirectory()) return { message: `${file} is a folder, not a file`, hint: "name a file in it" };
  if (stat) return access(file, fs.constants.W_OK) ? undefined : { message: `${file} is not writable`, hint };
  let dir = path.dirname(file);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  if (!statOf(dir)?.isDirectory())
    return { message: `cannot create ${file}: ${dir} is a file, not a folder`, hint };
  if (!access(dir, fs.constants.W_OK | fs.constants.X_OK))
    return { message: `cannot create ${file}: the folder ${dir} is not writable`, hint };
  return undefined;
}

/** undefined when nothing is there (or a file stands where a folder of the path should be) */
function statOf(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function access(file: string, mode: number): boolean {
  try {
    fs.accessSync(file, mode);
    return true;
  } catch {
    return false;
  }
}

/** the path with the symlinks of its existing part resolved, so two spellings of one file compare equal */
function canonical(file: string): string {
  let existing = path.resolve(file);
  const rest: string[] = [];
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) {
    rest.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  try {
    return path.join(fs.realpathSync(existing), ...rest);
  } catch {
    return path.resolve(file);
  }
}

function isInside(file: string, dir: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

function label(declared: Declared): string {
  return declared.entry.label;
}
