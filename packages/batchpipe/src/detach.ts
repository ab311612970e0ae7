/** `batchpipe run|watch <spec> --detach`: the same command again, in a background process (core's daemon). */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type DaemonInfo, startDaemon } from "@batchpipe/core";

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
