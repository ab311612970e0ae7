/** `batchpipe logs <pipeline.yaml> [-f]`: the log of the pipeline's background run. */
import { EventEmitter, once } from "node:events";
import fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import {
  BatchpipeError,
  checkStateOwner,
  daemonPaths,
  defaultStateDir,
  ErrorCodes,
  readDaemon,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, pipelineArgs, pipelineCommand, stateDirArg } from "./pipeline-args.js";

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
    // another pipeline's folder (--state-dir) holds that pipeline's log, not this one's
    checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
    const log = daemonPaths(stateDir).log;
    if (!fs.existsSync(log)) {
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `"${pipeline.spec.name}" has no background run log (${log})`,
        {
          hint: `Start a background run with \`${pipelineCommand("run", args, "--detach", ctx.cli)}\`.`,
        },
      );
    }
    if (!args.follow) {
      await copy(log, 0, ctx.io.stdout, true);
      return ExitCode.OK;
    }
    // listening for Ctrl-C before the first lines are out (a test's SIGINT right after them)
    let stop = false;
    const onSigint = () => {
      stop = true;
    };
    process.once("SIGINT", onSigint);
    let offset = await copy(log, 0, ctx.io.stdout);
    try {
      // poll: works on every file system, and a log line a second late is fine
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        offset = await copy(log, offset, ctx.io.stdout);
        if (readDaemon(stateDir)?.state !== "running") {
          offset = await copy(log, offset, ctx.io.stdout, true);
          break;
        }
      }
    } finally {
      process.off("SIGINT", onSigint);
    }
    return ExitCode.OK;
  },
});

/**
 * write the lines of `file` from `offset` on (with `all`, a last unfinished line too), streamed a
 * chunk at a time: a long run's log is never held whole. Returns the new offset.
 */
async function copy(file: string, offset: number, out: Output, all = false): Promise<number> {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= offset) return size < offset ? 0 : offset;
  const handle = await fs.promises.open(file, "r");
  try {
    // whole lines only: a line the run is still writing waits for the next look
    const end = all ? size : await lineEnd(handle, offset, size);
    if (end === offset) return offset;
    const stream = handle.createReadStream({
      start: offset,
      end: end - 1,
      autoClose: false,
      highWaterMark: CHUNK,
    });
    // a UTF-8 sequence cut by a chunk's edge is completed by the next chunk
    const decoder = new StringDecoder("utf8");
    for await (const chunk of stream) await write(out, decoder.write(chunk as Buffer));
    await write(out, decoder.end());
    return end;
  } finally {
    await handle.close();
  }
}

type Output = { write(text: string): unknown };

const CHUNK = 64 * 1024;

/** the offset just past the last newline in [from, to) of the file, or `from` when there is none */
async function lineEnd(handle: fs.promises.FileHandle, from: number, to: number): Promise<number> {
  const buffer = Buffer.alloc(Math.min(CHUNK, to - from));
  for (let stop = to; stop > from; ) {
    const start = Math.max(from, stop - buffer.length);
    const { bytesRead } = await handle.read(buffer, 0, stop - start, start);
    const at = buffer.lastIndexOf(0x0a, bytesRead - 1);
    if (at !== -1) return start + at + 1;
    stop = start;
  }
  return from;
}

/** write `text`, waiting for a stream that asks for it (write returned false) to drain */
async function write(out: Output, text: string): Promise<void> {
  if (text === "" || out.write(text) !== false) return;
  if (out instanceof EventEmitter) await once(out, "drain");
}
