/** `batchpipe cancel <pipeline.yaml>`: cancel the open batches of the unfinished run. */

import {
  BatchpipeError,
  type CancelResult,
  cancelRun,
  defaultStateDir,
  ErrorCodes,
  isBatchpipeError,
  pipelineStatus,
  readWatchCounts,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { exitCodeForSignal, trapSignals } from "../signals.js";
import { loadPipelineArg, pipelineArgs, pipelineCommand, stateDirArg } from "./pipeline-args.js";

export default defineCommand({
  meta: {
    name: "cancel",
    description:
      "Cancel the unfinished run: its open batches are cancelled; finished results are still delivered",
  },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
  },
  async run(context) {
    const ctx = cliContext(context);
    const { io, env } = ctx;
    const args = context.args;
    // cancels retrying through a slow provider can take long: a Ctrl-C stops them and says what is left
    const trap = trapSignals({ io, quiet: false, doing: "stopping the cancel" });
    try {
      const { pipeline, stateDir } = await loadPipelineArg(ctx, args);
      // a watched pipeline's runs are its watcher's (`run` refuses it)
      const command = readWatchCounts(stateDir ?? defaultStateDir(pipeline)) ? "watch" : "run";
      // a watcher ends the cancelled run and goes on with the next files; a run stops
      const after = command === "watch" ? "and goes on watching" : "and stops";
      // said here: core's "no unfinished run" hints at starting one, which is not what a cancel wants
      const latest = pipelineStatus(pipeline, { stateDir }).run;
      if (latest === null || latest.finishedAt !== null)
        throw new BatchpipeError(
          ErrorCodes.USAGE,
          `pipeline "${pipeline.spec.name}" has no unfinished run: nothing to cancel`,
          {
            hint: latest
              ? `Its latest run, ${latest.id} (${latest.status}), has ended; \`${pipelineCommand("status", args, "", ctx.cli)}\` shows it.`
              : "It has not run yet.",
          },
        );
      const stopped = trap.received();
      if (stopped) {
        io.stderr.write("■ stopped before the cancel began: nothing was cancelled or flagged.\n");
        return exitCodeForSignal(stopped);
      }
      let result: CancelResult;
      try {
        result = await cancelRun(pipeline, { stateDir, env, signal: trap.signal });
      } catch (error) {
        const signalName = trap.received();
        if (!signalName || !isBatchpipeError(error) || error.code !== ErrorCodes.INTERRUPTED) throw error;
        const who = command === "watch" ? "watcher" : "run";
        const end = command === "watch" ? "and go on watching" : "and end";
        io.stderr.write(
          `■ ${error.message}.\n  cancel the rest at the provider: ${pipelineCommand("cancel", args, "", ctx.cli)}\n  or let the ${who} cancel them, deliver the finished results ${end}: ${pipelineCommand(command, args, "", ctx.cli)}\n`,
        );
        return exitCodeForSignal(signalName);
      }
      io.stdout.write(
        `■ run ${result.run}: cancel requested; ${result.cancelled.length} open batch${result.cancelled.length === 1 ? "" : "es"} cancelled\n`,
      );
      for (const f of result.failed) io.stderr.write(`  ⚠ could not cancel ${f.batchId}: ${f.message}\n`);
      io.stdout.write(
        `  A running \`batchpipe ${command}\` delivers the finished results ${after}; if none is running, \`${pipelineCommand(command, args, "", ctx.cli)}\` does it.\n`,
      );
      return result.failed.length > 0 ? ExitCode.RUN_ERROR : ExitCode.OK;
    } finally {
      trap.dispose();
    }
  },
});
