/**
 * Load a pipeline: YAML (with positions) → `${VAR}` interpolation → envelope schema → plugins
 * resolved and their options checked by their own schemas. Every problem is collected and thrown
 * at once as one SPEC_INVALID error whose `details` are located issues.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { isScalar, Scalar } from "yaml";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type {
  Plugin,
  PluginKind,
  ProviderPlugin,
  SinkPlugin,
  SourcePlugin,
  TransformPlugin,
} from "../plugin.js";
import type { PluginOfKind, PluginRegistry } from "../plugins/resolve.js";
import { isPlugin } from "../plugins/shape.js";
import { type Env, hasReference, interpolate, isSingleReference } from "./interpolate.js";
import { issuesFromZod, type SpecIssue, type SpecPath, specErrorMap } from "./issues.js";
import { findNode, locateIssues, type SpecText, specError, toDotPath } from "./locate.js";
import { isRecord, pluginSlots, type ResolvedPlugin, resolveSlot } from "./plugin-slots.js";
import { formatBytes, type PipelineSpec, pipelineSchema } from "./schema.js";
import { parseSize } from "./units.js";
import { checkApiKey, checkUrlPasswords, interpolateDocument, parseSpec, toData } from "./yaml-text.js";

export type { ResolvedPlugin } from "./plugin-slots.js";

export interface Pipeline {
  /** the spec file (absolute), null when built from an object */
  file: string | null;
  /** the folder relative paths resolve against */
  dir: string;
  spec: PipelineSpec;
  provider: ResolvedPlugin<ProviderPlugin>;
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
  /** allow secrets written inline (`provider.api_key`, a password in a URL) instead of as `${VAR}` references */
  allowInlineSecrets?: boolean;
  /** plugins by the name used in `use`, taking precedence over built-ins and packages */
  plugins?: Record<string, Plugin>;
  /** built-in plugins by kind and name (the batchpipe CLI passes the official ones) */
  builtins?: PluginRegistry;
  /**
   * the caller never calls the provider nor opens a sink (it reads the state: status, runs, logs,
   * view): an unset `${VAR}` in `provider.api_key` is left out, and one in a sink's options (a
   * database URL) leaves that sink's options unchecked, instead of being an error
   */
  keyUnused?: boolean;
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
    throw unreadableSpec(file, error);
  }
  const spec = parseSpec(text, absolute);
  let issues = interpolateDocument(spec, options.env ?? process.env);
  let unchecked: SpecPath[] = [];
  if (options.keyUnused) {
    const isKey = (issue: SpecIssue) => issue.path.join(".") === "provider.api_key";
    if (issues.some(isKey)) spec.doc.deleteIn(["provider", "api_key"]);
    // a sink is never opened: its options are not checked where a variable was missing
    const inSink = (issue: SpecIssue) => issue.path[0] === "sinks" || issue.path[0] === "errors";
    unchecked = issues.filter(inSink).map((issue) => issue.path);
    issues = issues.filter((issue) => !isKey(issue) && !inSink(issue));
  }
  checkApiKey(spec, issues, options.allowInlineSecrets ?? false);
  checkUrlPasswords(spec, issues, options.allowInlineSecrets ?? false);
  return buildPipeline(toData(spec), {
    file: absolute,
    dir: path.dirname(absolute),
    text: spec,
    env: options.env ?? process.env,
    issues,
    unchecked,
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
    env: options.env ?? process.env,
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
  /** the environment the spec was interpolated with (a provider's completion windows may depend on it) */
  env: Env;
  /** problems found before the schema ran (environment variables, secrets) */
  issues: SpecIssue[];
  /** paths whose problems are not reported (LoadPipelineOptions.keyUnused) */
  unchecked?: SpecPath[];
  plugins?: Record<string, Plugin>;
  builtins?: PluginRegistry;
}

async function buildPipeline(data: unknown, ctx: BuildContext): Promise<Pipeline> {
  const issues = [...ctx.issues];
  const parsed = pipelineSchema.safeParse(data, { error: specErrorMap });
  if (!parsed.success) issues.push(...issuesFromZod(parsed.error, { schema: pipelineSchema, input: data }));

  const slots = pluginSlots(data);
  const results = await Promise.all(slots.map((slot) => resolveSlot(slot, ctx)));
  for (const result of results) issues.push(...result.issues);
  const resolved = results.map((result) => result.resolved);
  const providerRef = resolved.find((entry, index) => entry && slots[index]!.path[0] === "provider");
  if (providerRef)
    issues.push(...providerLimitIssues(data, providerRef as ResolvedPlugin<ProviderPlugin>, ctx.env));

  const blocked = [...ctx.issues.map((issue) => issue.path), ...(ctx.unchecked ?? [])].map(toDotPath);
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
  const pipeline: Pipeline = {
    file: ctx.file,
    dir: ctx.dir,
    spec,
    provider: pick<"provider">("provider")[0]!,
    source: pick<"source">("source")[0]!,
    transform: pick<"transform">("transform")[0]!,
    sinks: pick<"sink">("sinks"),
    errors: pick<"sink">("errors"),
    resolvePath: (p) => path.resolve(ctx.dir, p),
  };
  if (ctx.text) specTexts.set(pipeline, ctx.text);
  return pipeline;
}

/** the parsed file a pipeline came from, to locate problems found after loading (checkPipeline) */
export function specTextOf(pipeline: Pipeline): SpecText | undefined {
  return specTexts.get(pipeline);
}

const specTexts = new WeakMap<Pipeline, SpecText>();

/** batch sizes the spec sets past what the provider accepts in one batch, or a window it refuses (other problems aside) */
function providerLimitIssues(data: unknown, provider: ResolvedPlugin<ProviderPlugin>, env: Env): SpecIssue[] {
  const batch = isRecord(data) && isRecord(data.batch) ? data.batch : {};
  const limits = provider.plugin.limits(provider.options);
  const issues: SpecIssue[] = [];
  const hint = `that is the ${provider.plugin.name} provider's limit per batch; leave the key out to use it`;
  const requests = batch.max_requests;
  if (typeof requests === "number" && requests > limits.maxRequests)
    issues.push({ path: ["batch", "max_requests"], message: `must be at most ${limits.maxRequests}`, hint });
  const bytes =
    typeof batch.max_bytes === "string" || typeof batch.max_bytes === "number"
      ? parseSize(batch.max_bytes)
      : null;
  if (typeof bytes === "number" && bytes > limits.maxBytes)
    issues.push({
      path: ["batch", "max_bytes"],
      message: `must be at most ${formatBytes(limits.maxBytes)}`,
      hint,
    });
  const windows = provider.plugin.completionWindows?.(provider.options, env);
  const window = batch.completion_window;
  if (windows && typeof window === "string" && !windows.includes(window))
    issues.push({
      path: ["batch", "completion_window"],
      message: `the ${provider.plugin.name} provider accepts only ${windows.join(", ")}`,
      hint: `write completion_window: ${windows[0]}, or leave the key out (the default is 24h)`,
    });
  return issues;
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

/** the pipeline file cannot be read: why (no such file, a folder, no permission) and what to do */
function unreadableSpec(file: string, error: unknown): BatchpipeError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "ENOENT"
      ? ": there is no such file"
      : code === "EISDIR"
        ? ": it is a folder (name the .yaml file in it)"
        : code === "EACCES" || code === "EPERM"
          ? ": permission denied"
          : `: ${(error as Error).message}`;
  return new BatchpipeError(ErrorCodes.SPEC_INVALID, `cannot read the pipeline file ${file}${why}`, {
    hint:
      code === "ENOENT"
        ? "Check the path (a relative one is read from the current folder), or write a pipeline with `batchpipe init`."
        : undefined,
    cause: error,
  });
}
