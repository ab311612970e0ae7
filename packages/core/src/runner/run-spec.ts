/**
 * `runSpec`: run a pipeline given as an object (the YAML spec's shape) whose `use` may be a plugin
 * object (defineSource / defineTransform / defineSink), or a name from `plugins`.
 */
import path from "node:path";
import { defaultStateDir, runPipeline } from "../engine/run-pipeline.js";
import type { EngineEvent, RunOptions, RunResult } from "../engine/types.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
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
  const guard = guardOnEvent(runOptions.onEvent, runOptions.signal);
  if (!guard) return runPipeline(pipeline, runOptions);
  let result: RunResult;
  try {
    result = await runPipeline(pipeline, { ...runOptions, onEvent: guard.onEvent, signal: guard.signal });
  } catch (error) {
    throw guard.failure(false) ?? error;
  }
  const failure = guard.failure(true);
  if (failure) throw failure;
  return result;
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

// --- internal ---

/**
 * The app's onEvent, made safe for the engine: a callback that throws (a logger writing to a closed
 * socket) threw at the engine's emit site, in the middle of whatever the engine was doing, and the
 * run rejected with the callback's bare error. Now the throw is caught, the run is stopped through
 * the signal (its state saved) and it rejects with PLUGIN_FAILED naming onEvent and the event.
 */
function guardOnEvent(
  onEvent: RunOptions["onEvent"],
  signal: AbortSignal | undefined,
):
  | {
      onEvent: (event: EngineEvent) => void;
      signal: AbortSignal;
      failure: (ended: boolean) => BatchpipeError | undefined;
    }
  | undefined {
  if (!onEvent) return undefined;
  const stop = new AbortController();
  let thrown: { error: unknown; type: string } | undefined;
  return {
    onEvent(event) {
      if (thrown) return;
      try {
        onEvent(event);
      } catch (error) {
        thrown = { error, type: event.type };
        stop.abort();
      }
    },
    signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
    failure(ended) {
      if (!thrown) return undefined;
      return new BatchpipeError(
        ErrorCodes.PLUGIN_FAILED,
        `onEvent threw on a "${thrown.type}" event: ${(thrown.error as Error)?.message ?? String(thrown.error)}`,
        {
          hint: ended
            ? "The run ended all the same (its results were delivered); fix the callback."
            : "The run stopped there with its state saved: fix the callback and run again to resume it.",
          plugin: "onEvent",
          cause: thrown.error,
        },
      );
    },
  };
}
