/** `batchpipe run <pipeline.yaml>`: run (or resume) a pipeline to the end and print its reconciliation report. */

import {
  defaultStateDir,
  type EngineEvent,
  ErrorCodes,
  enterDaemonChild,
  isBatchpipeError,
  runPipeline,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { startRunDaemon } from "../detach.js";
import { exitCodeForSignal, trapSignals } from "../signals.js";
import { loadPipelineArg, pipelineArgs, stateDirArg } from "./pipeline-args.js";
import { createProgressRenderer, renderReport } from "./run-output.js";

export default defineCommand({
  meta: {
    name: "run",
    description: "Run a pipeline (or resume its unfinished run) and report every record's outcome",
  },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    force: {
      type: "boolean",
      description:
        "Submit a dataset even if it was already processed under this name, or if the state is new but the provider has batches of this name (a lost state.db: STATE_LOST)",
    },
    json: { type: "boolean", description: "Print one JSON event per line on stdout (for scripts)" },
    detach: {
      type: "boolean",
      description: "Run in a background process that outlives the shell (see batchpipe status, logs, stop)",
    },
  },
  async run(context) {
    const { io, cwd, env, engine } = cliContext(context);
    const args = context.args;
    const { pipeline, stateDir } = await loadPipelineArg(cliContext(context), args);
    // in a `--detach` child: record the exit code for `batchpipe status`
    enterDaemonChild(env);
    if (args.detach) {
      const info = startRunDaemon({
        spec: args.pipeline,
        stateDir: stateDir ?? defaultStateDir(pipeline),
        name: pipeline.spec.name,
        force: args.force,
        allowInlineSecrets: args["allow-inline-secrets"],
        cwd,
        env,
      });
      io.stdout.write(
        args.json
          ? `${JSON.stringify({ type: "detached", ...info })}\n`
          : `started in the background: pid ${info.pid}\n  log: ${info.log}\n  follow it: batchpipe logs ${args.pipeline} -f · stop it: batchpipe stop ${args.pipeline}\n`,
      );
      return 0;
    }
    const trap = trapSignals({ io, quiet: Boolean(args.json), onFirst: () => renderer?.clear() });

    const renderer = args.json
      ? undefined
      : createProgressRenderer(io, { tty: Boolean(io.stderr.isTTY) && env.TERM !== "dumb" });
    const onEvent = (event: EngineEvent) => {
      if (args.json) io.stdout.write(`${JSON.stringify(event)}\n`);
      else renderer!.onEvent(event);
    };
    try {
      const result = await runPipeline(pipeline, {
        ...engine,
        signal: trap.signal,
        onEvent,
        stateDir,
        force: args.force,
        env,
      });
      renderer?.stop();
      if (!args.json) io.stdout.write(renderReport(result.report));
      return result.exitCode;
    } catch (error) {
      renderer?.stop();
      const signalName = trap.received();
      if (signalName && isBatchpipeError(error) && error.code === ErrorCodes.INTERRUPTED) {
        const command = `batchpipe run ${args.pipeline}${args["state-dir"] ? ` --state-dir ${args["state-dir"]}` : ""}`;
        if (args.json)
          io.stdout.write(
            `${JSON.stringify({ type: "interrupted", signal: signalName, resume: command })}\n`,
          );
        else
          io.stderr.write(
            `■ stopped; the state is saved and open batches go on at the provider.\n  resume with: ${command}\n`,
          );
        return exitCodeForSignal(signalName);
      }
      throw error;
    } finally {
      trap.dispose();
    }
  },
});
