/** `batchpipe status <pipeline.yaml>`: the latest run of a pipeline, from its state (no network). */

import { pipelineStatus, readDaemon, readWatchCounts, type StatusResult } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { withoutCodeNotes } from "../render-error.js";
import {
  inProcessEmulator,
  loadPipelineArg,
  pipelineArgs,
  pipelineCommand,
  stateDirArg,
} from "./pipeline-args.js";
import { cutCounts, failureLines, fmt, money, spent, unpriced } from "./run-output.js";

export default defineCommand({
  meta: { name: "status", description: "Show the state of a pipeline's latest run" },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    json: { type: "boolean", description: "Print the status as JSON" },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { io } = ctx;
    const { pipeline, stateDir } = await loadPipelineArg(ctx, context.args, { keyUnused: true });
    const status = pipelineStatus(pipeline, {
      stateDir,
    });
    // the background run started with `run --detach`, if any
    const daemon = readDaemon(status.stateDir);
    // one that ended before the latest run began ran an earlier run: not shown beside this one
    const earlier =
      daemon?.finishedAt != null && status.run != null && daemon.finishedAt < status.run.createdAt;
    const daemonLine =
      daemon && !earlier
        ? `  daemon pid ${daemon.pid} ${daemon.state}${daemon.exitCode !== null ? ` (exit ${daemon.exitCode})` : ""} · log ${daemon.log}\n`
        : "";
    // files taken by `batchpipe watch`, if it ever ran
    const watch = readWatchCounts(status.stateDir);
    const watchLine = watch
      ? `  watch: ${watch.done} file(s) processed, ${watch.pending} pending, ${watch.failed} failed\n`
      : "";
    if (context.args.json) {
      io.stdout.write(`${JSON.stringify({ ...status, daemon, watch }, null, 2)}\n`);
      return ExitCode.OK;
    }
    const run = status.run;
    if (!run) {
      io.stdout.write(`${status.name}: no run yet (state: ${status.stateDir})\n${daemonLine}${watchLine}`);
      return ExitCode.OK;
    }
    const c = run.counters;
    const total = run.totals?.read ?? 0;
    // no process runs it (a cancel not acted on, too): the batches' states are those last polled
    const unpolled = run.status === "stopped";
    const lines = [
      `${status.name}: run ${run.id} ${run.status}${run.cancelRequested ? " (cancel requested)" : ""}${status.running ? ` · ${status.runningPid === null ? "its process is starting" : `running in pid ${status.runningPid}`}` : ""}`,
      // a watched pipeline resumes with `batchpipe watch` (`run` refuses it)
      ...stoppedLines(run, pipelineCommand(watch ? "watch" : "run", context.args, "", ctx.cli)),
      `  started ${new Date(run.createdAt).toISOString()}${run.finishedAt ? ` · finished ${new Date(run.finishedAt).toISOString()}` : ""}`,
      // while the source is read (streaming submission) the total is not known yet
      `  records ${fmt(c.succeeded + c.failed)}${run.totals ? `/${fmt(total)} done` : " done so far, of a total not known yet (the source is still being read)"} · ok ${fmt(c.succeeded)}${cutCounts(c.cutByReason) && ` (${cutCounts(c.cutByReason)})`} · failed ${fmt(c.failed)} · retried ${fmt(c.retried)}`,
      `  shards ${
        Object.entries(run.shards)
          .map(([k, n]) => `${k} ${fmt(n)}`)
          .join(", ") || "-"
      } · batches ${fmt(c.batches)}`,
      `  tokens ${fmt(c.inputTokens)} in / ${fmt(c.outputTokens)} out · cost ${spent(c)}${c.unpriced > 0 ? `: ${unpriced(c.unpriced)}` : run.totals?.estimatedCost != null ? ` (estimated ${money(run.totals.estimatedCost)})` : ""}`,
    ];
    for (const b of run.batches)
      lines.push(
        `  batch ${b.batchId} shard ${b.shard} (attempt ${b.attempt}, ${fmt(b.requests)} requests): ${b.status ?? "?"}${unpolled ? " when last polled" : ""}`,
      );
    // no process runs it: the in-process emulator's batches ended with the process that ran them
    if (run.batches.length > 0 && run.status === "stopped" && inProcessEmulator(pipeline))
      lines.push(
        "  these batches were in the in-process emulator, which stopped with its process: the next run finds them gone and sends their requests again",
      );
    io.stdout.write(`${lines.join("\n")}\n${failureLines(c)}${daemonLine}${watchLine}`);
    return ExitCode.OK;
  },
});

/** why an unfinished run is not running, and how to go on */
function stoppedLines(run: NonNullable<StatusResult["run"]>, resume: string): string[] {
  if (run.status !== "stopped") return [];
  const reason = run.stopped;
  return [
    reason
      ? `  ended on: ${withoutCodeNotes(reason.message)} (${reason.code}) at ${new Date(reason.at).toISOString()}`
      : "  the process running it is gone (killed, or the machine restarted); no error was recorded",
    ...(reason?.hint ? [`  hint: ${withoutCodeNotes(reason.hint)}`] : []),
    ...(run.cancelRequested
      ? [
          "  the cancel is not settled: no batchpipe process runs this run, so its batches' states are those last polled",
          `  settle it with: ${resume} (it collects the batches' final states, delivers what finished and fails the rest as batch_cancelled)`,
        ]
      : [`  resume with: ${resume}`]),
  ];
}
