/** `batchpipe logs <pipeline.yaml> [-f]`: the log of the pipeline's background run. */
import fs from "node:fs";
import { BatchpipeError, daemonPaths, defaultStateDir, ErrorCodes, readDaemon } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, pipelineArgs, stateDirArg } from "./pipeline-args.js";

export default defineCommand({
  meta: { name: "logs", description: "Show the log of the pipeline's background run" },
  args: {
    ...pipelineArgs,
    follow: {
      type: "boolean",
      alias: "f",
      description: "Keep printing new lines until the run ends (or Ctrl-C)",
    },
    ...stateDirArg,
  },
  async run(context) {
    const ctx = cliContext(context);
    const args = context.args;
    const { pipeline, stateDir: given } = await loadPipelineArg(ctx, args, { keyUnused: true });
    const stateDir = given ?? defaultStateDir(pipeline);
    const log = daemonPaths(stateDir).log;
    if (!fs.existsSync(log)) {
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `"${pipeline.spec.name}" has no background run log (${log})`,
        {
          hint: "Start a background run with `batchpipe run <spec> --detach`.",
        },
      );
    }
    if (!args.follow) {
      copy(log, 0, ctx.io.stdout, true);
      return ExitCode.OK;
    }
    // listening for Ctrl-C before the first lines are out (a test's SIGINT right after them)
    let stop = false;
    const onSigint = () => {
      stop = true;
    };
    process.once("SIGINT", onSigint);
    let offset = copy(log, 0, ctx.io.stdout);
    try {
      // poll: works on every file system, and a log line a second late is fine
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        offset = copy(log, offset, ctx.io.stdout);
        if (readDaemon(stateDir)?.state !== "running") {
          offset = copy(log, offset, ctx.io.stdout, true);
          break;
        }
      }
    } finally {
      process.off("SIGINT", onSigint);
    }
    return ExitCode.OK;
  },
});

/** write the lines of `file` from `offset` on (with `all`, a last unfinished line too); returns the new offset */
function copy(file: string, offset: number, out: { write(text: string): unknown }, all = false): number {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= offset) return size < offset ? 0 : offset;
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.alloc(size - offset);
    const read = fs.readSync(fd, buffer, 0, buffer.length, offset);
    // whole lines only, so a UTF-8 sequence is never cut
    const end = all ? read : buffer.lastIndexOf(0x0a, read - 1) + 1;
    if (end > 0) out.write(buffer.subarray(0, end).toString("utf8"));
    return offset + end;
  } finally {
    fs.closeSync(fd);
  }
}
