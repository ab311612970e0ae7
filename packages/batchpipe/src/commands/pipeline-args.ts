/** Arguments and spec loading shared by the commands that act on a pipeline file. */
import path from "node:path";
import { loadPipeline, type Pipeline } from "@batchpipe/core";
import type { CliContext } from "../context.js";
import { officialPlugins } from "../official-plugins.js";

export const pipelineArgs = {
  pipeline: {
    type: "positional",
    description: "The pipeline file",
    valueHint: "pipeline.yaml",
    required: true,
  },
  "allow-inline-secrets": {
    type: "boolean",
    description: "Accept secrets written inline (provider.api_key, a password in a URL)",
  },
} as const;

export const stateDirArg = {
  "state-dir": {
    type: "string",
    valueHint: "folder",
    description: "Where the run state lives (default .batchpipe/<name> beside the spec)",
  },
} as const;

/**
 * `--no-cache`, declared under that name so that the help lists it alone: a boolean `cache` that
 * defaults to true would list a `--cache` that does nothing, and `--no-cache` without its meaning.
 * citty reads any `--no-x` as `x: false`, so read the flag with noCache().
 */
export function noCacheArg(description: string) {
  return { "no-cache": { type: "boolean" as const, description } };
}

/** whether `--no-cache` was given */
export function noCache(args: { cache?: unknown; "no-cache"?: unknown }): boolean {
  return args.cache === false || args["no-cache"] === true;
}

/** load the spec named on the command line; `stateDir` resolved against the working directory */
export async function loadPipelineArg(
  ctx: CliContext,
  args: { pipeline: string; "allow-inline-secrets"?: boolean; "state-dir"?: string },
  /** `keyUnused`: the command only reads the state (the provider's key may be unset) */
  o: { keyUnused?: boolean } = {},
): Promise<{ pipeline: Pipeline; stateDir: string | undefined }> {
  const pipeline = await loadPipeline(path.resolve(ctx.cwd, args.pipeline), {
    env: ctx.env,
    allowInlineSecrets: args["allow-inline-secrets"],
    builtins: officialPlugins,
    keyUnused: o.keyUnused,
  });
  return { pipeline, stateDir: args["state-dir"] ? path.resolve(ctx.cwd, args["state-dir"]) : undefined };
}

/**
 * The command line a message tells the user to run next on this pipeline (resume, settle a
 * cancel, clear the cache): the spec as given and, when one was given, the same --state-dir.
 * `cli`: how the user started batchpipe (CliContext.cli; `npx batchpipe` when not on the PATH).
 */
export function pipelineCommand(
  command: string,
  args: { pipeline: string; "state-dir"?: string },
  extra = "",
  cli = "batchpipe",
): string {
  const stateDir = args["state-dir"] ? ` --state-dir ${shellArg(args["state-dir"])}` : "";
  return `${cli} ${command} ${shellArg(args.pipeline)}${stateDir}${extra ? ` ${extra}` : ""}`;
}

/**
 * What becomes of the open batches when the process running a pipeline stops: a provider's go on,
 * the in-process emulator's (`use: emulator`) end with the process, and the next run sends again.
 */
export function openBatchesAfterStop(pipeline: Pipeline): string {
  return inProcessEmulator(pipeline)
    ? "the in-process emulator stopped with this process, and the open batches with it: the next run finds them gone and sends their requests again"
    : "open batches go on at the provider";
}

/** `provider: { use: emulator }`: the emulator runs inside the process running the pipeline */
export function inProcessEmulator(pipeline: Pipeline): boolean {
  return pipeline.spec.provider.use === "emulator";
}

/** a path as a POSIX shell reads it back: as it is when it is plain, else in single quotes */
export function shellArg(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
