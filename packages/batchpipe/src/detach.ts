/** `batchpipe run|watch <spec> --detach`: the same command again, in a background process (core's daemon). */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BatchpipeError, type DaemonInfo, ErrorCodes, type Pipeline, startDaemon } from "@batchpipe/core";
import { STDIN_PATH } from "@batchpipe/core/plugin";

/** the CLI's bin (the same path from src/ and dist/) */
export const CLI_BIN = fileURLToPath(new URL("../bin/batchpipe.js", import.meta.url));

/** `batchpipe run|watch <spec> --detach`: the same command in a background process */
export function startCliDaemon(options: {
  command: "run" | "watch";
  spec: string;
  stateDir: string;
  name: string;
  /** the command's other flags, passed on */
  flags?: string[];
  cwd: string;
  env: Record<string, string | undefined>;
}): DaemonInfo {
  const stateDir = path.resolve(options.stateDir);
  return startDaemon({
    stateDir,
    name: options.name,
    cwd: options.cwd,
    env: options.env,
    args: [
      CLI_BIN,
      options.command,
      path.resolve(options.cwd, options.spec),
      "--state-dir",
      stateDir,
      ...(options.flags ?? []),
    ],
  });
}

/**
 * A background process has no standard input: a source that reads it (`path: "-"`) would read
 * nothing, and the run would end "completed" with the piped records lost
 */
export function refuseDetachedStdin(pipeline: Pipeline, env: Record<string, string | undefined>): void {
  const { plugin, options, label } = pipeline.source;
  const reads = plugin.check?.({ options, resolvePath: pipeline.resolvePath, env }).reads ?? [];
  if (!reads.some((read) => read.path === STDIN_PATH)) return;
  throw new BatchpipeError(
    ErrorCodes.USAGE,
    `${label} reads standard input, which a background run (--detach) does not have`,
    {
      hint: "Run it in the foreground (without --detach), or have the producer write to a file or a named pipe (mkfifo) and name that in the source's path.",
    },
  );
}

/** `batchpipe run <spec> --detach` */
export function startRunDaemon(options: {
  spec: string;
  stateDir: string;
  name: string;
  force?: boolean;
  noCache?: boolean;
  allowInlineSecrets?: boolean;
  cwd: string;
  env: Record<string, string | undefined>;
}): DaemonInfo {
  return startCliDaemon({
    ...options,
    command: "run",
    flags: [
      ...(options.force ? ["--force"] : []),
      ...(options.noCache ? ["--no-cache"] : []),
      ...(options.allowInlineSecrets ? ["--allow-inline-secrets"] : []),
    ],
  });
}
