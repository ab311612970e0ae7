/** `batchpipe stop <pipeline.yaml>`: end the pipeline's background run cleanly (it saves its state). */

import path from "node:path";
import {
  BatchpipeError,
  checkStateOwner,
  defaultStateDir,
  ErrorCodes,
  lockHolder,
  readDaemon,
  stopDaemon,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { exitCodeForSignal, trapSignals } from "../signals.js";
import { durationArg } from "./duration-arg.js";
import {
  loadPipelineArg,
  openBatchesAfterStop,
  pipelineArgs,
  pipelineCommand,
  stateDirArg,
} from "./pipeline-args.js";

export default defineCommand({
  meta: {
    name: "stop",
    description:
      "Stop the pipeline's background process (run --detach or watch --detach); it saves its state",
  },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    timeout: {
      type: "string",
      description: "How long to wait for it to save its state and exit (default 60s)",
    },
  },
  async run(context) {
    const ctx = cliContext(context);
    const args = context.args;
    const timeoutMs = durationArg("timeout", args.timeout) ?? 60_000;
    const { pipeline, stateDir: given } = await loadPipelineArg(ctx, args, { keyUnused: true });
    const stateDir = given ?? defaultStateDir(pipeline);
    checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
    const command = readDaemon(stateDir)?.command[1] === "watch" ? "watch" : "run";
    // the wait is ours (stopDaemon only signals): a Ctrl-C ends it and says where the run stands
    const trap = trapSignals({ io: ctx.io, quiet: false, doing: "no longer waiting" });
    let result: Awaited<ReturnType<typeof stopDaemon>>;
    try {
      result = await stopDaemon(stateDir, { timeoutMs: 0 });
      if (result?.signalled && !result.stopped) {
        result.stopped = await waitForExit(stateDir, timeoutMs, trap.signal);
        const signalName = trap.received();
        if (signalName) {
          ctx.io.stderr.write(
            `■ stopped waiting; the background ${command === "watch" ? "watcher" : "run"} (pid ${result.pid}) has the stop signal and goes on saving its state.\n  follow it: ${pipelineCommand("logs", args, "-f", ctx.cli)} · end it at once: kill -9 ${result.pid} (the state survives)\n`,
          );
          return exitCodeForSignal(signalName);
        }
      }
    } finally {
      trap.dispose();
    }
    if (!result?.signalled) {
      // a foreground watcher holds the lock in watch/ (and the pipeline's while a group runs), a run the pipeline's
      const holder = lockHolder(path.join(stateDir, "watch")) ?? lockHolder(stateDir);
      if (holder && (holder.command === "run" || holder.command === "watch")) {
        const pid = holder.pid !== null ? ` (pid ${holder.pid})` : "";
        throw new BatchpipeError(
          ErrorCodes.USAGE,
          `"${pipeline.spec.name}" is not running in the background: a \`batchpipe ${holder.command}\`${pid} runs it in a terminal`,
          {
            hint: `Press Ctrl-C in that terminal${holder.pid !== null ? `, or kill ${holder.pid} (SIGTERM)` : ""}: it saves its state, and \`${pipelineCommand(holder.command, args, "", ctx.cli)}\` resumes.`,
          },
        );
      }
      throw new BatchpipeError(ErrorCodes.USAGE, `no background run of "${pipeline.spec.name}" is running`, {
        hint: `Start one with \`${pipelineCommand("run", args, "--detach", ctx.cli)}\`; \`${pipelineCommand("status", args, "", ctx.cli)}\` shows the last one.`,
      });
    }
    if (!result.stopped) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `the background run (pid ${result.pid}) did not exit in time`,
        {
          hint: `It may still be saving; check \`${pipelineCommand("status", args, "", ctx.cli)}\`, or kill -9 ${result.pid} (the state survives).`,
        },
      );
    }
    ctx.io.stdout.write(
      `stopped the background ${command === "watch" ? "watcher" : "run"} (pid ${result.pid}); the state is saved; ${openBatchesAfterStop(pipeline)}.\n  resume with: ${pipelineCommand(command, args, "[--detach]", ctx.cli)}\n`,
    );
    return ExitCode.OK;
  },
});

/** true once the daemon has exited, false at the timeout or when `signal` aborts */
async function waitForExit(stateDir: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    if (readDaemon(stateDir)?.state !== "running") return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return readDaemon(stateDir)?.state !== "running";
}
