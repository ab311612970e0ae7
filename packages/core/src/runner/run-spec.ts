/**
 * `runSpec`: run a pipeline given as an object (the YAML spec's shape) whose `use` may be a plugin
 * object (defineSource / defineTransform / defineSink), or a name from `plugins`.
 */
import path from "node:path";
import { defaultStateDir, runPipeline } from "../engine/run-pipeline.js";
import type { RunOptions, RunResult } from "../engine/types.js";
import type { Plugin } from "../plugin.js";
import type { PluginRegistry } from "../plugins/resolve.js";
import { checkPipeline } from "../spec/check.js";
import type { Env } from "../spec/interpolate.js";
import { type Pipeline, resolvePipeline } from "../spec/load.js";

export interface RunSpecOptions extends Omit<RunOptions, "env"> {
  /** the folder relative paths (and the default state folder) resolve against; default process.cwd() */
  dir?: string | undefined;
  /** plugins by the name used in `use`, before built-ins and packages */
  plugins?: Record<string, Plugin> | undefined;
  /** built-in plugins by kind and name, e.g. `{ source: { jsonl } }` for `use: jsonl` */
  builtins?: PluginRegistry | undefined;
  /** for `${VAR}` interpolation and the provider's key; default process.env */
  env?: Env | undefined;
}

/**
 * Validate `spec` (same schema and errors as a YAML file), resolve its plugins, run the early checks
 * `batchpipe run` runs (inputs exist, no two writers on one file, keys set) and run it to the end.
 */
export async function runSpec(spec: unknown, options: RunSpecOptions = {}): Promise<RunResult> {
  const { dir, plugins, builtins, ...runOptions } = options;
  const pipeline = await resolveSpec(spec, { dir, plugins, builtins, env: options.env });
  checkPipeline(pipeline, {
    env: options.env,
    stateDir: path.resolve(options.stateDir ?? defaultStateDir(pipeline)),
  });
  return runPipeline(pipeline, runOptions);
}

/** `resolvePipeline` with the defaults of runSpec (dir = cwd) */
export function resolveSpec(
  spec: unknown,
  options: Pick<RunSpecOptions, "dir" | "plugins" | "builtins" | "env"> = {},
): Promise<Pipeline> {
  return resolvePipeline(spec, {
    dir: path.resolve(options.dir ?? process.cwd()),
    plugins: options.plugins,
    builtins: options.builtins,
    env: options.env,
  });
}
