/**
 * Load a pipeline: YAML (with positions) → `${VAR}` interpolation → envelope schema → plugins
 * resolved and their options checked by their own schemas. Every problem is collected and thrown
 * at once as one SPEC_INVALID error whose `details` are located issues.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  visit,
  type YAMLError,
} from "yaml";
import type { z } from "zod";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Plugin, PluginKind, SinkPlugin, SourcePlugin, TransformPlugin } from "../plugin.js";
import { type PluginOfKind, type PluginRegistry, resolvePlugin } from "../plugins/resolve.js";
import { isPlugin } from "../plugins/shape.js";
import {
  coercePlainScalar,
  type Env,
  hasReference,
  type InterpolationProblem,
  interpolate,
  isSingleReference,
} from "./interpolate.js";
import {
  issuesFromZod,
  knownKeys,
  type SpecIssue,
  type SpecPath,
  specErrorMap,
  unknownKeyIssue,
} from "./issues.js";
import { findNode, locateIssues, type SpecText, toDotPath } from "./locate.js";
import { type PipelineSpec, type PluginRef, pipelineSchema } from "./schema.js";

export interface ResolvedPlugin<P> {
  plugin: P;
  /** the options without `use`, validated by `plugin.options` (defaults applied) */
  options: unknown;
  /** the `use` value as written (a plugin object's name when given in code) */
  use: string;
  /** for messages: `sinks[1] (sqlite)` */
  label: string;
}

export interface Pipeline {
  /** the spec file (absolute), null when built from an object */
  file: string | null;
  /** the folder relative paths resolve against */
  dir: string;
  spec: PipelineSpec;
  source: ResolvedPlugin<SourcePlugin>;
  transform: ResolvedPlugin<TransformPlugin>;
  sinks: ResolvedPlugin<SinkPlugin>[];
  errors: ResolvedPlugin<SinkPlugin>[];
  /** resolve a path relative to the spec's folder */
  resolvePath(p: string): string;
}

export interface LoadPipelineOptions {
  /** for `${VAR}` interpolation; default process.env */
  env?: Env;
  /** allow `provider.api_key` written inline instead of as a `${VAR}` reference */
  allowInlineSecrets?: boolean;
  /** plugins by the name used in `use`, taking precedence over built-ins and packages */
  plugins?: Record<string, Plugin>;
  /** built-in plugins by kind and name (the batchpipe CLI passes the official ones) */
  builtins?: PluginRegistry;
}

export interface ResolvePipelineOptions extends LoadPipelineOptions {
  /** the folder relative paths resolve against */
  dir: string;
}

/** Load and validate a pipeline file; throws a SPEC_INVALID BatchpipeError listing every problem. */
export async function loadPipeline(file: string, options: LoadPipelineOptions = {}): Promise<Pipeline> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, `cannot read the pipeline file ${file}`, {
      hint: (error as NodeJS.ErrnoException).code === "ENOENT" ? "check the path" : undefined,
      cause: error,
    });
  }
  const spec = parseSpec(text, absolute);
  const issues = interpolateDocument(spec, options.env ?? process.env);
  checkApiKey(spec, issues, options.allowInlineSecrets ?? false);
  return buildPipeline(toData(spec), {
    file: absolute,
    dir: path.dirname(absolute),
    text: spec,
    issues,
    plugins: options.plugins,
    builtins: options.builtins,
  });
}

/**
 * Build a pipeline from a spec object (the programmatic API); `use` may be a plugin object.
 * Strings are interpolated like the YAML's; `provider.api_key` may be given inline here.
 */
export async function resolvePipeline(spec: unknown, options: ResolvePipelineOptions): Promise<Pipeline> {
  const issues: SpecIssue[] = [];
  const data = interpolateObject(spec, [], options.env ?? process.env, issues);
  return buildPipeline(data, {
    file: null,
    dir: path.resolve(options.dir),
    issues,
    plugins: options.plugins,
    builtins: options.builtins,
  });
}

// --- internal ---

interface BuildContext {
  file: string | null;
  dir: string;
  text?: SpecText;
  /** problems found before the schema ran (environment variables, secrets) */
  issues: SpecIssue[];
  plugins?: Record<string, Plugin>;
  builtins?: PluginRegistry;
}

interface Slot {
  kind: PluginKind;
  path: SpecPath;
  ref: PluginRef;
}

/** yaml's messages that speak to a library user rather than to a spec author */
const YAML_MESSAGES: Record<string, string> = {
  MULTIPLE_DOCS: "the file holds more than one YAML document",
  DUPLICATE_KEY: "duplicate key: a key may appear only once in a mapping",
};

const YAML_HINTS: Record<string, string> = {
  MULTIPLE_DOCS:
    "a pipeline file is one document: remove the `---` line and what follows, or split it into two files",
  BLOCK_AS_IMPLICIT_KEY:
    "a key has both a value and a nested mapping: check the indentation of the line below",
  BAD_INDENT: "check the indentation: nested keys need more spaces than their parent, and siblings the same",
  DUPLICATE_KEY: "remove one of them",
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MISSING_CHAR: "a quote or bracket is not closed",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line; is a `:` or a quote missing?",
};

/** YAML with positions; throws SPEC_INVALID for syntax errors and an empty file */
function parseSpec(text: string, file: string): SpecText {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const spec: SpecText = { file, text, doc, lineCounter, secrets: [] };
  const issues: SpecIssue[] = syntaxErrors(doc.errors).map((error) => ({
    path: [],
    message: YAML_MESSAGES[error.code] ?? error.message.split("\n")[0]!,
    hint:
      text.slice(error.pos[0] - 1, error.pos[0] + 1) === "${"
        ? FLOW_HINT
        : (YAML_HINTS[error.code] ?? "fix the YAML syntax"),
    range: error.pos,
  }));
  if (issues.length === 0 && doc.contents === null)
    issues.push({
      path: [],
      message: "the file is empty",
      hint: "a pipeline spec starts with `version: 1` (see `batchpipe schema`)",
    });
  if (issues.length > 0) throw specError(locateIssues(issues, spec, file), file);
  return spec;
}

/** the document as data; an alias to no anchor (or an alias bomb) is a located spec error, not a crash */
function toData(spec: SpecText): unknown {
  try {
    return spec.doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    let range: [number, number] | undefined;
    visit(spec.doc, {
      Alias(_, node) {
        if (!range && node.range && node.resolve(spec.doc) === undefined)
          range = [node.range[0], node.range[1]];
      },
    });
    const issue: SpecIssue = {
      path: [],
      message: range
        ? `the alias ${spec.text.slice(range[0], range[1]).trim()} has no anchor`
        : (error as Error).message.split("\n")[0]!,
      hint: "define the anchor (&name) before its alias (*name), or write the value out",
      range,
    };
    throw specError(locateIssues([issue], spec, spec.file), spec.file);
  }
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
const FLOW_HINT = 'inside { } or [ ], quote a value that holds a variable: "${VAR}"';

/** the first syntax error, and later ones that cannot be its echo; the rest usually cascade from the first */
function syntaxErrors(errors: YAMLError[]): YAMLError[] {
  const independent = new Set(["DUPLICATE_KEY", "TAB_AS_INDENT", "BAD_DQ_ESCAPE"]);
  return errors.filter((error, index) => index === 0 || independent.has(error.code));
}

async function buildPipeline(data: unknown, ctx: BuildContext): Promise<Pipeline> {
  const issues = [...ctx.issues];
  const parsed = pipelineSchema.safeParse(data, { error: specErrorMap });
  if (!parsed.success) issues.push(...issuesFromZod(parsed.error, { schema: pipelineSchema, input: data }));

  const slots = pluginSlots(data);
  const results = await Promise.all(slots.map((slot) => resolveSlot(slot, ctx)));
  for (const result of results) issues.push(...result.issues);
  const resolved = results.map((result) => result.resolved);

  const blocked = ctx.issues.map((issue) => toDotPath(issue.path));
  const reported = issues.filter(
    (issue, index) =>
      index < ctx.issues.length ||
      !blocked.some(
        (prefix) => toDotPath(issue.path) === prefix || toDotPath(issue.path).startsWith(`${prefix}.`),
      ),
  );
  if (reported.length > 0 || !parsed.success) {
    for (const issue of reported) issue.hint = explain(issue, data, ctx.text) ?? issue.hint;
    throw specError(locateIssues(reported, ctx.text, ctx.file), ctx.file ?? "the pipeline spec");
  }

  const spec = parsed.data as PipelineSpec;
  spec.errors = slots.filter((slot) => slot.path[0] === "errors").map((slot) => slot.ref);
  const pick = <K extends PluginKind>(key: string) =>
    resolved.filter((entry, index) => entry && slots[index]!.path[0] === key) as ResolvedPlugin<
      PluginOfKind<K>
    >[];
  return {
    file: ctx.file,
    dir: ctx.dir,
    spec,
    source: pick<"source">("source")[0]!,
    transform: pick<"transform">("transform")[0]!,
    sinks: pick<"sink">("sinks"),
    errors: pick<"sink">("errors"),
    resolvePath: (p) => path.resolve(ctx.dir, p),
  };
}

/** hints for two surprises: a quoted `${VAR}` stays a string; a missing transform is the prompt one */
function explain(issue: SpecIssue, data: unknown, text: SpecText | undefined): string | undefined {
  if (/^expected (a number|true or false|an integer), got a string$/.test(issue.message) && text) {
    const node = findNode(text.doc, issue.path);
    if (isScalar(node) && node.type !== Scalar.PLAIN && node.range) {
      const written = text.text.slice(node.range[0] + 1, node.range[1]).replace(/["']\s*$/, "");
      if (isSingleReference(written))
        // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
        return "a quoted value stays a string: write ${VAR} unquoted, in block style";
    }
  }
  const transform = isRecord(data) ? data.transform : undefined;
  if (transform === undefined && toDotPath(issue.path) === "transform.body")
    return "no transform is given, so the default `prompt` transform is used: give it a body (the request template)";
  return undefined;
}

/** every plugin reference in the raw data, with defaults for `transform` and `errors` */
function pluginSlots(data: unknown): Slot[] {
  if (!isRecord(data)) return [];
  const slots: Slot[] = [];
  const add = (kind: PluginKind, at: SpecPath, value: unknown) => {
    if (isRecord(value) && (typeof value.use === "string" ? value.use !== "" : isPlugin(value.use)))
      slots.push({ kind, path: at, ref: value as PluginRef });
  };
  add("source", ["source"], data.source);
  const transform = data.transform ?? {};
  add(
    "transform",
    ["transform"],
    isRecord(transform) && transform.use === undefined ? { use: "prompt", ...transform } : transform,
  );
  if (Array.isArray(data.sinks))
    for (const [index, ref] of data.sinks.entries()) add("sink", ["sinks", index], ref);
  if (Array.isArray(data.errors))
    for (const [index, ref] of data.errors.entries()) add("sink", ["errors", index], ref);
  else if (data.errors === undefined && typeof data.name === "string" && /^[\w-]+$/.test(data.name))
    add("sink", ["errors", 0], { use: "jsonl", path: `.batchpipe/${data.name}/errors.jsonl` });
  return slots;
}

async function resolveSlot(
  slot: Slot,
  ctx: BuildContext,
): Promise<{ resolved?: ResolvedPlugin<Plugin>; issues: SpecIssue[] }> {
  const { use, ...options } = slot.ref;
  let plugin: Plugin;
  try {
    plugin = await resolvePlugin(slot.kind, use, {
      dir: ctx.dir,
      plugins: ctx.plugins,
      builtins: ctx.builtins,
    });
  } catch (error) {
    if (!(error instanceof BatchpipeError)) throw error;
    return {
      issues: [{ path: [...slot.path, "use"], message: error.message, hint: error.hint, code: error.code }],
    };
  }
  const schema = plugin.options as z.ZodType;
  let parsed: ReturnType<z.ZodType["safeParse"]>;
  try {
    parsed = schema.safeParse(options, { error: specErrorMap });
  } catch (error) {
    const message = `the options schema of ${plugin.name} threw: ${error instanceof Error ? error.message : String(error)}`;
    return {
      issues: [
        {
          path: [...slot.path, "use"],
          message,
          code: ErrorCodes.PLUGIN_INVALID,
          hint: "fix the plugin's options schema",
        },
      ],
    };
  }
  const strays = strippedKeys(schema, options, slot.path);
  if (!parsed.success)
    return {
      issues: [...issuesFromZod(parsed.error, { prefix: slot.path, schema, input: options }), ...strays],
    };
  if (strays.length > 0) return { issues: strays };
  const name = typeof use === "string" ? use : plugin.name;
  const label = `${toDotPath(slot.path)} (${plugin.name})`;
  return { resolved: { plugin, options: parsed.data, use: name, label }, issues: [] };
}

/** a plugin schema made with z.object() drops unknown keys silently; the spec treats them as errors */
function strippedKeys(schema: z.ZodType, options: Record<string, unknown>, at: SpecPath): SpecIssue[] {
  const def = (schema as { _zod?: { def?: { type?: string; catchall?: unknown } } })._zod?.def;
  if (def?.type !== "object" || def.catchall !== undefined) return [];
  const known = knownKeys(schema, []);
  return Object.keys(options)
    .filter((key) => !known.includes(key))
    .map((key) => unknownKeyIssue([...at, key], known));
}

function specError(details: BatchpipeError[], file: string): BatchpipeError {
  const count = details.length === 1 ? "a problem" : `${details.length} problems`;
  return new BatchpipeError(ErrorCodes.SPEC_INVALID, `${file} has ${count}`, {
    details,
    loc: details[0]?.loc,
    hint: "fix them and run `batchpipe validate` again",
  });
}

/** interpolate every string scalar in place; problems point at the reference inside the scalar */
function interpolateDocument(spec: SpecText, env: Env): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const visit = (node: unknown, at: SpecPath) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (typeof key === "string" || typeof key === "number") visit(pair.value, [...at, key]);
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) visit(item, [...at, index]);
    } else if (isScalar(node) && typeof node.value === "string" && hasReference(node.value)) {
      const original = node.value;
      const result = interpolate(original, env);
      const start = node.range?.[0] ?? 0;
      const source = spec.text.slice(start, node.range?.[1] ?? start);
      for (const problem of result.problems) issues.push(problemIssue(problem, original, source, start, at));
      node.value =
        node.type === Scalar.PLAIN && isSingleReference(original)
          ? coercePlainScalar(result.value)
          : result.value;
    }
  };
  visit(spec.doc.contents, []);
  return issues;
}

function problemIssue(
  problem: InterpolationProblem,
  original: string,
  source: string,
  start: number,
  at: SpecPath,
): SpecIssue {
  // the reference as written; found in the raw source so quoted scalars point right too
  const reference = original.slice(problem.index).match(/^\$\{[^}]*\}?/)?.[0] ?? "${";
  const offset = source.indexOf(reference);
  const from = start + Math.max(0, offset);
  return { path: at, message: problem.message, hint: problem.hint, range: [from, from + reference.length] };
}

function interpolateObject(value: unknown, at: SpecPath, env: Env, issues: SpecIssue[]): unknown {
  if (typeof value === "string" && hasReference(value)) {
    const result = interpolate(value, env);
    for (const problem of result.problems)
      issues.push({ path: at, message: problem.message, hint: problem.hint });
    return result.value;
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolateObject(item, [...at, index], env, issues));
  if (isRecord(value) && !isPlugin(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = interpolateObject(item, [...at, key], env, issues);
    return out;
  }
  return value;
}

/** `provider.api_key` must come from the environment: the spec is committed, the key must not be */
function checkApiKey(spec: SpecText, issues: SpecIssue[], allowInline: boolean) {
  const provider = spec.doc.get("provider", true);
  if (!isMap(provider)) return;
  const node = provider.get("api_key", true) as Node | undefined;
  if (!isScalar(node) || !node.range) return;
  const written = spec.text.slice(node.range[0], node.range[1]).replace(/^["']|["']$/g, "");
  if (isSingleReference(written)) return;
  spec.secrets.push([node.range[0], node.range[1]]);
  if (allowInline) return;
  issues.push({
    path: ["provider", "api_key"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    message: "must be a ${VAR} reference, not the key itself (the value is hidden here)",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    hint: "put the key in an environment variable and write api_key: ${OPENAI_API_KEY}; revoke the key if this file was shared",
    range: [node.range[0], node.range[1]],
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
