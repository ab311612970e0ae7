/** `batchpipe run <pipeline.yaml>`: run (or resume) a pipeline to the end and print its reconciliation report. */

import {
  BatchpipeError,
  checkPipeline,
  clearRunStop,
  defaultStateDir,
  type EngineEvent,
  ErrorCodes,
  type ErrorSummary,
  enterDaemonChild,
  isBatchpipeError,
  readDaemon,
  readWatchCounts,
  recordRunStop,
  runPipeline,
  summarizeError,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { refuseDetachedStdin, startRunDaemon } from "../detach.js";
import { exitCodeForSignal, trapSignals } from "../signals.js";
import {
  loadPipelineArg,
  noCache,
  noCacheArg,
  openBatchesAfterStop,
  pipelineArgs,
  pipelineCommand,
  stateDirArg,
} from "./pipeline-args.js";
import { createProgressRenderer, EMPTY_SOURCE, renderReport } from "./run-output.js";

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
        "Run although the state is new but the provider has batches of this name (a lost state.db: STATE_LOST), or a stopped watcher took files of this source (its sinks then hold this run's rows only)",
    },
    ...noCacheArg("Send every request, none answered from the result cache (the results still refresh it)"),
    json: { type: "boolean", description: "Print one JSON event per line on stdout (for scripts)" },
    detach: {
      type: "boolean",
      description: "Run in a background process that outlives the shell (see batchpipe status, logs, stop)",
    },
  },
  async run(context) {
    const { io, cwd, env, engine, cli } = cliContext(context);
    const args = context.args;
    const { pipeline, stateDir } = await loadPipelineArg(cliContext(context), args);
    // a wrong path, a missing key or two sinks on one file: said now, before a record is read
    checkPipeline(pipeline, { env, stateDir });
    refuseWatched(stateDir ?? defaultStateDir(pipeline), args, cli, {
      detach: Boolean(args.detach),
      force: Boolean(args.force),
    });
    // in a `--detach` child: record the exit code for `batchpipe status`
    const background = enterDaemonChild(env) !== undefined;
    if (args.detach) {
      refuseDetachedStdin(pipeline, env);
      const info = startRunDaemon({
        spec: args.pipeline,
        stateDir: stateDir ?? defaultStateDir(pipeline),
        name: pipeline.spec.name,
        force: args.force,
        noCache: noCache(args),
        allowInlineSecrets: args["allow-inline-secrets"],
        cwd,
        env,
      });
      io.stdout.write(
        args.json
          ? `${JSON.stringify({ type: "detached", ...info })}\n`
          : `started in the background: pid ${info.pid}\n  log: ${info.log}\n  follow it: ${pipelineCommand("logs", args, "-f", cli)} · stop it: ${pipelineCommand("stop", args, "", cli)}\n`,
      );
      return 0;
    }
    const trap = trapSignals({ io, quiet: Boolean(args.json), background, onFirst: () => renderer?.clear() });

    const renderer = args.json
      ? undefined
      : createProgressRenderer(io, { tty: Boolean(io.stderr.isTTY) && env.TERM !== "dumb", cwd });
    let runId: string | undefined;
    const onEvent = (event: EngineEvent) => {
      if (event.type === "run_started") {
        runId = event.run;
        clearRunStop(event.stateDir);
      }
      if (args.json && event.type === "planned" && event.totals.read === 0 && event.totals.invalid === 0)
        io.stdout.write(`${JSON.stringify({ type: "warning", run: event.run, message: EMPTY_SOURCE })}\n`);
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
        noCache: noCache(args),
        env,
      });
      renderer?.stop();
      if (!args.json) io.stdout.write(renderReport(result.report));
      return result.exitCode;
    } catch (error) {
      renderer?.stop();
      const signalName = trap.received();
      // `status` then says the run stopped, and why, instead of "running"
      if (runId) recordRunStop(stateDir ?? defaultStateDir(pipeline), runId, stopReason(error, signalName));
      if (signalName && isBatchpipeError(error) && error.code === ErrorCodes.INTERRUPTED) {
        const command = pipelineCommand("run", args, "", cli);
        if (args.json)
          io.stdout.write(
            `${JSON.stringify({ type: "interrupted", signal: signalName, resume: command })}\n`,
          );
        else
          io.stderr.write(
            `■ stopped; the state is saved; ${openBatchesAfterStop(pipeline)}.\n  resume with: ${command}\n`,
          );
        return exitCodeForSignal(signalName);
      }
      throw error;
    } finally {
      trap.dispose();
    }
  },
});

function stopReason(error: unknown, signalName: string | undefined): ErrorSummary {
  if (signalName) return { code: ErrorCodes.INTERRUPTED, message: `interrupted by ${signalName}` };
  return summarizeError(error);
}

/**
 * A pipeline `batchpipe watch` processes takes its files one by one, and its sinks keep the rows of
 * every file. A `run` would read the whole folder as one new dataset, and its sinks would hold that
 * run's rows only (a jsonl sink is rewritten): the rows of files processed and since moved away would
 * be lost. The refusal says so (it spoke of paying twice, which the result cache prevents), and
 * --force runs anyway, unless a watcher runs (in the background or not: an idle one holds only its
 * watch/ lock, not the state lock a run takes). Read-only: the watch registry is only looked at.
 */
function refuseWatched(
  stateDir: string,
  args: { pipeline: string; "state-dir"?: string },
  cli: string,
  o: { detach: boolean; force: boolean },
): void {
  const daemon = readDaemon(stateDir);
  // `run --detach` beside any running daemon: startDaemon refuses it, naming the daemon's pid
  if (o.detach && daemon?.state === "running") return;
  const watched = readWatchCounts(stateDir);
  const watcher = daemon?.state === "running" && daemon.command[1] === "watch" ? daemon.pid : undefined;
  if (!watched && watcher === undefined) return;
  const files = watched ? watched.done + watched.pending + watched.failed : 0;
  if (o.force && watcher === undefined) return;
  throw new BatchpipeError(
    ErrorCodes.USAGE,
    `this pipeline is processed by \`batchpipe watch\`${watcher !== undefined ? ` (running in the background, pid ${watcher})` : ""} (${files} file${files === 1 ? "" : "s"} taken so far): a run would read the whole source as one new dataset, and its sinks would then hold that run's rows only: the rows of files processed and no longer in the folder would be lost`,
    {
      hint: `${watcher !== undefined ? "the running watcher takes the files that arrive" : `to process what is in the folder now, run ${pipelineCommand("watch", args, "--once", cli)}`} (new and changed files; the rows so far stay). To start the outputs over from the whole source, losing the rows of files no longer there: ${watcher !== undefined ? `stop the watcher (${pipelineCommand("stop", args, "", cli)}), then ` : ""}run with --force`,
    },
  );
}
