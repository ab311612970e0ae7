/** Arguments several commands share, so they read and document the same way. */
import path from "node:path";
import { defaultStateDir } from "../engine/run-pipeline.js";
import { loadPipeline, type Pipeline } from "../spec/load.js";
import type { CliContext } from "./context.js";

/** `<pipeline.yaml>`: the spec file, relative to the working directory */
export const pipelineArg = {
  type: "positional",
  description: "The pipeline file",
  valueHint: "pipeline.yaml",
  required: true,
} as const;

/** `--state-dir`: where the run state lives */
export const stateDirArg = {
  type: "string",
  description: "Where the run state lives (default .batchpipe/<name> beside the spec)",
} as const;

/** `--allow-inline-secrets` */
export const inlineSecretsArg = {
  type: "boolean",
  description: "Accept provider.api_key written inline",
} as const;

/** the pipeline and its state folder, from `<pipeline> [--state-dir] [--allow-inline-secrets]` */
export async function loadPipelineArgs(
  ctx: Pick<CliContext, "cwd" | "env">,
  args: { pipeline: string; "state-dir"?: string; "allow-inline-secrets"?: boolean },
): Promise<{ pipeline: Pipeline; stateDir: string }> {
  const pipeline = await loadPipeline(path.resolve(ctx.cwd, args.pipeline), {
    env: ctx.env,
    allowInlineSecrets: args["allow-inline-secrets"],
  });
  const stateDir = args["state-dir"] ? path.resolve(ctx.cwd, args["state-dir"]) : defaultStateDir(pipeline);
  return { pipeline, stateDir };
}
