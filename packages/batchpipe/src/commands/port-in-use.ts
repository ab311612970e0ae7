/** A server command's `--port` that another process holds: a usage error that says so, not "a bug". */
import { BatchpipeError, ErrorCodes } from "@batchpipe/core";

/** `error` as the usage error of a port in use, when it is one (EADDRINUSE); else undefined */
export function portInUse(error: unknown, port: unknown, host: unknown): BatchpipeError | undefined {
  if ((error as NodeJS.ErrnoException)?.code !== "EADDRINUSE") return undefined;
  return new BatchpipeError(
    ErrorCodes.USAGE,
    `port ${String(port)} on ${String(host ?? "127.0.0.1")} is in use`,
    {
      hint: "Give another --port, or leave it out for a free one.",
      cause: error,
    },
  );
}
