/** `batchpipe watch <pipeline.yaml>`: process every file that appears in the source's folder or glob. */
import path from "node:path";
import {
  checkPipeline,
  clearRunStop,
  defaultStateDir,
  ErrorCodes,
  enterDaemonChild,
  isBatchpipeError,
  recordRunStop,
  summarizeError,
  type WatchEvent,
  watchPipeline,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { startCliDaemon } from "../detach.js";
import { ExitCode } from "../exit-codes.js";
import { exitCodeForSignal, trapSignals } from "../signals.js";
import { durationArg } from "./duration-arg.js";
import {
  loadPipelineArg,
  noCache,
  noCacheArg,
  pipelineArgs,
  pipelineCommand,
  stateDirArg,
} from "./pipeline-args.js";
import { createProgressRenderer, cutCounts, fmt } from "./run-output.js";

export default defineCommand({
  meta: {
    name: "watch",
    description:
      "Watch the source's folder or glob and run every new or changed file once it is fully written. Each record id is delivered once per pipeline: a record whose id an earlier file delivered fails as duplicate_id (errors sink)",
  },
  args: {
    ...pipelineArgs,
    once: { type: "boolean", description: "Process the files there now (and unfinished ones), then exit" },
    ...stateDirArg,
    settle: {
      type: "string",
      description: "How long a file's size must stay unchanged before it is read (default 1s)",
    },
    coalesce: {
      type: "string",
      description:
        "Files arriving within this of each other share one run and its batches (default 2s, at most 10× this)",
    },
    force: {
      type: "boolean",
      description:
        "Watch although `batchpipe run` processed this pipeline (its files would be taken again), and submit even if the state is new but the provider has batches of this pipeline's name (a lost state.db: STATE_LOST)",
    },
    ...noCacheArg(
      "Send every request of each file, none answered from the result cache (the results still refresh it)",
    ),
    json: { type: "boolean", description: "Print one JSON event per line on stdout (for scripts)" },
    detach: {
      type: "boolean",
      description: "Watch in a background process that outlives the shell (see batchpipe status, logs, stop)",
    },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { io, cwd, env } = ctx;
    const args = context.args;
    // a wrong value is said before anything starts (a --detach child would only log it)
    const settle = durationArg("settle", args.settle);
    const coalesce = durationArg("coalesce", args.coalesce);
    const { pipeline, stateDir: given } = await loadPipelineArg(ctx, args);
    const stateDir = given ?? defaultStateDir(pipeline);
    // a wrong path, a missing key or two sinks on one file: said now, before a file is taken
    // (a folder or a glob with no file yet is fine: watch waits for files)
    checkPipeline(pipeline, { env, stateDir, allowEmptyGlobs: true });
    // in a `--detach` child: record the exit code for `batchpipe status`
    const background = enterDaemonChild(env) !== undefined;
    if (args.detach) {
      const info = startCliDaemon({
        command: "watch",
        spec: args.pipeline,
        stateDir,
        name: pipeline.spec.name,
        flags: [
          ...(args.once ? ["--once"] : []),
          ...(args.force ? ["--force"] : []),
          ...(noCache(args) ? ["--no-cache"] : []),
          ...(args.settle ? ["--settle", args.settle] : []),
          ...(args.coalesce ? ["--coalesce", args.coalesce] : []),
          ...(args["allow-inline-secrets"] ? ["--allow-inline-secrets"] : []),
        ],
        cwd,
        env,
      });
      io.stdout.write(
        args.json
          ? `${JSON.stringify({ type: "detached", ...info })}\n`
          : `watching in the background: pid ${info.pid}\n  log: ${info.log}\n  follow it: ${pipelineCommand("logs", args, "-f", ctx.cli)} · stop it: ${pipelineCommand("stop", args, "", ctx.cli)}\n`,
      );
      return ExitCode.OK;
    }
    const trap = trapSignals({ io, quiet: Boolean(args.json), background });
    const renderer = args.json
      ? undefined
      : createProgressRenderer(io, { tty: false, plainEveryMs: 5000, cwd });
    const rel = (file: string) => path.relative(cwd, file) || file;
    // the run of the group in progress: `status` says why it stopped, if it does
    let runId: string | undefined;
    const onEvent = (event: WatchEvent) => {
      if (event.type === "group_run") {
        runId = event.run;
        clearRunStop(stateDir);
      } else if (event.type === "group_finished" || event.type === "group_failed") runId = undefined;
      if (args.json) {
        const out =
          event.type === "group_failed" ||
          event.type === "group_retry" ||
          event.type === "file_error" ||
          event.type === "file_failed"
            ? { ...event, error: { code: event.error.code, message: event.error.message } }
            : event;
        io.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const line = describe(event, rel, background ? pipelineCommand("stop", args, "", ctx.cli) : "Ctrl-C");
      if (line) io.stderr.write(`${line}\n`);
      if (event.type === "engine") renderer!.onEvent(event.event);
    };
    try {
      const summary = await watchPipeline(pipeline, {
        stateDir,
        once: args.once,
        signal: trap.signal,
        onEvent,
        env,
        force: args.force,
        noCache: noCache(args),
        engine: ctx.engine,
        settle,
        coalesce,
      });
      renderer?.stop();
      if (args.json) io.stdout.write(`${JSON.stringify({ type: "summary", ...summary })}\n`);
      else
        io.stdout.write(
          `${fmt(summary.files)} file(s) in ${fmt(summary.groups)} run(s): ${fmt(summary.succeeded)} succeeded, ${fmt(summary.failed)} failed${summary.filesFailed ? ` · ${fmt(summary.filesFailed)} file(s) failed (see above)` : ""}\n`,
        );
      if (summary.filesFailed > 0) return ExitCode.RUN_ERROR;
      return summary.failed > 0 ? ExitCode.FAILED_REQUESTS : ExitCode.OK;
    } catch (error) {
      renderer?.stop();
      const signalName = trap.received();
      if (runId)
        recordRunStop(
          stateDir,
          runId,
          signalName
            ? { code: ErrorCodes.INTERRUPTED, message: `interrupted by ${signalName}` }
            : summarizeError(error),
        );
      if (signalName && isBatchpipeError(error) && error.code === ErrorCodes.INTERRUPTED) {
        const command = pipelineCommand("watch", args, "", ctx.cli);
        // as `run --json`: a script learns the watcher stopped, and how to go on
        if (args.json)
          io.stdout.write(
            `${JSON.stringify({ type: "interrupted", signal: signalName, resume: command })}\n`,
          );
        else io.stderr.write(`■ stopped; unfinished files resume at the next \`${command}\`.\n`);
        return exitCodeForSignal(signalName);
      }
      throw error;
    } finally {
      trap.dispose();
    }
  },
});

/** `stop`: what stops the watcher (Ctrl-C, or `batchpipe stop` for a background one) */
function describe(event: WatchEvent, rel: (file: string) => string, stop: string): string | undefined {
  switch (event.type) {
    case "watching":
      return event.once
        ? `processing ${rel(event.target)}`
        : `watching ${rel(event.target)} (${stop} to stop)`;
    case "folder_missing":
      return `${rel(event.root)} does not exist: waiting for it to be created`;
    case "file_queued":
      return `+ ${rel(event.file)} (${fmt(event.bytes)} bytes) queued`;
    case "file_skipped":
      return event.reason === "link out of the folder"
        ? `- ${rel(event.file)} skipped: a link to a file outside the watched folder (name the file or its folder in the source's path to read it)`
        : `= ${rel(event.file)} ${event.reason} (same content)`;
    case "file_error":
      return `! ${event.error.message}; ${event.retryInMs === null ? "not processed this time" : `trying again in ${Math.round(event.retryInMs / 1000)}s`}`;
    case "group_started":
      return `▶ ${event.resumed ? "resuming" : "running"} ${event.files.length} file(s): ${fileList(event.files, rel)}`;
    case "file_read":
      return `  ${rel(event.file)}: ${fmt(event.records)} record(s) read`;
    case "file_done":
      return event.status === "failed"
        ? `✖ ${rel(event.file)}: ${fmt(event.succeeded)} succeeded, ${fmt(event.failed)} failed before the source failed in it`
        : `✓ ${rel(event.file)}: ${fmt(event.succeeded)} succeeded, ${fmt(event.failed)} failed`;
    case "file_failed":
      return `✖ ${event.error.message.replaceAll(event.file, rel(event.file))}${event.error.hint ? `\n  hint: ${event.error.hint}` : ""}`;
    case "group_finished":
      return `■ run ${event.report.run} ${event.status}: ${fmt(event.report.succeeded)} succeeded${cutCounts(event.report.cutByReason) && ` (${cutCounts(event.report.cutByReason)}: partial output)`}, ${fmt(event.report.failed)} failed, ${fmt(event.report.batches)} batch(es)`;
    case "group_split":
      return `↯ these files cannot run together (${event.reason.split("\n")[0]}): running each on its own`;
    case "group_failed":
      return `✖ ${fileList(event.files, rel)}: ${event.error.message}${event.error.hint ? `\n  hint: ${event.error.hint}` : ""}`;
    case "group_retry":
      return `! ${event.error.message}; retrying in ${Math.round(event.inMs / 1000)}s`;
    case "idle":
      return "waiting for files…";
    // an engine event (its warnings included) is the progress renderer's
    default:
      return undefined;
  }
}

/** files named in a human line: the first few, then how many more (`--json` events list them all) */
const NAMED_FILES = 5;

function fileList(files: readonly string[], rel: (file: string) => string): string {
  const named = files.slice(0, NAMED_FILES).map(rel).join(", ");
  const more = files.length - NAMED_FILES;
  return more > 0 ? `${named} and ${more.toLocaleString("en-US")} more` : named;
}
