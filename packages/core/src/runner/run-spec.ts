/**
 * `runSpec`: run a pipeline given as an object (the YAML spec's shape) whose `use` may be a plugin
 * object (defineSource / defineTransform / defineSink), or a name from `plugins`.
 */
import path from "node:path";
import { runPipeline } from "../engine/run-pipeline.js";
import type { RunOptions, RunResult } from "../engine/types.js";
import type { Plugin } from "../plugin.js";
import type { Env } from "../spec/interpolate.js";
import { type Pipeline, resolvePipeline } from "../spec/load.js";

export interface RunSpecOptions extends Omit<RunOptions, "env"> {
  /** the folder relative paths (and the default state folder) resolve against; default process.cwd() */
  dir?: string;
  /** plugins by the name used in `use`, before built-ins and packages */
  plugins?: Record<string, Plugin>;
  /** for `${VAR}` interpolation and the provider's key; default process.env */
  env?: Env;
}

/** Validate `spec` (same schema and errors as a YAML file), resolve its plugins and run it to the end. */
export async function runSpec(spec: unknown, options: RunSpecOptions = {}): Promise<RunResult> {
  const pipeline = await resolveSpec(spec, options);
  return runPipeline(pipeline, {
    signal: options.signal,
    onEvent: options.onEvent,
    stateDir: options.stateDir,
    force: options.force,
    env: options.env,
  });
}

/** `resolvePipeline` with the defaults of runSpec (dir = cwd) */
export function resolveSpec(
  spec: unknown,
  options: Pick<RunSpecOptions, "dir" | "plugins" | "env"> = {},
): Promise<Pipeline> {
  return resolvePipeline(spec, {
    dir: path.resolve(options.dir ?? process.cwd()),
    plugins: options.plugins,
    env: options.env,
  });
}
