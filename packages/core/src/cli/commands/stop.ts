/** `batchpipe stop <pipeline.yaml>`: end the pipeline's background run cleanly (it saves its state). */
import { defineCommand } from "citty";
import { stopDaemon } from "../../daemon/daemon.js";
import { BatchpipeError, ErrorCodes } from "../../errors.js";
import { parseDuration } from "../../spec/units.js";
import { inlineSecretsArg, loadPipelineArgs, pipelineArg, stateDirArg } from "../args.js";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

export default defineCommand({
  meta: { name: "stop", description: "Stop the pipeline's background run (started with run --detach)" },
  args: {
    pipeline: pipelineArg,
    "state-dir": stateDirArg,
    timeout: {
      type: "string",
      description: "How long to wait for it to save its state and exit (default 60s)",
    },
    "allow-inline-secrets": inlineSecretsArg,
  },
  async run(context) {
    const { io, cwd, env } = cliContext(context);
    const args = context.args;
    const { pipeline, stateDir } = await loadPipelineArgs({ cwd, env }, args);
    const result = await stopDaemon(stateDir, {
      timeoutMs: args.timeout ? (parseDuration(args.timeout) as number) : 60_000,
    });
    if (!result?.signalled) {
      throw new BatchpipeError(ErrorCodes.USAGE, `no background run of "${pipeline.spec.name}" is running`, {
        hint: "Start one with `batchpipe run <spec> --detach`; `batchpipe status <spec>` shows the last one.",
      });
    }
    if (!result.stopped) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `the background run (pid ${result.pid}) did not exit in time`,
        {
          hint: `It may still be saving; check \`batchpipe status ${args.pipeline}\`, or kill -9 ${result.pid} (the state survives).`,
        },
      );
    }
    io.stdout.write(
      `stopped the background run (pid ${result.pid}); the state is saved and open batches go on at the provider.\n  resume with: batchpipe run ${args.pipeline} [--detach]\n`,
    );
    return ExitCode.OK;
  },
});
