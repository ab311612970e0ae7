/** `batchpipe cancel <pipeline.yaml>`: cancel the open batches of the unfinished run. */

import { cancelRun, defaultStateDir, readWatchCounts } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
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
    const { pipeline, stateDir } = await loadPipelineArg(ctx, context.args);
    const result = await cancelRun(pipeline, {
      stateDir,
      env,
    });
    io.stdout.write(
      `■ run ${result.run}: cancel requested; ${result.cancelled.length} open batch${result.cancelled.length === 1 ? "" : "es"} cancelled\n`,
    );
    for (const f of result.failed) io.stderr.write(`  ⚠ could not cancel ${f.batchId}: ${f.message}\n`);
    // a watched pipeline's runs are its watcher's (`run` refuses it)
    const command = readWatchCounts(stateDir ?? defaultStateDir(pipeline)) ? "watch" : "run";
    // a watcher ends the cancelled run and goes on with the next files; a run stops
    const after = command === "watch" ? "and goes on watching" : "and stops";
    io.stdout.write(
      `  A running \`batchpipe ${command}\` delivers the finished results ${after}; if none is running, \`${pipelineCommand(command, context.args)}\` does it.\n`,
    );
    return result.failed.length > 0 ? ExitCode.RUN_ERROR : ExitCode.OK;
  },
});
