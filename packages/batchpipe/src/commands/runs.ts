/** `batchpipe runs <pipeline.yaml>`: a pipeline's past runs, newest first, from its state (no network). */

import { BatchpipeError, ErrorCodes, pipelineRuns, type RunCounters } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, pipelineArgs, pipelineCommand, stateDirArg } from "./pipeline-args.js";
import { duration, fmt, spent } from "./run-output.js";

export default defineCommand({
  meta: { name: "runs", description: "List a pipeline's past runs with counts, cost and duration" },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    limit: { type: "string", description: "How many runs, newest first (default 50)" },
    json: { type: "boolean", description: "Print the runs as JSON" },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { pipeline, stateDir } = await loadPipelineArg(ctx, context.args, { keyUnused: true });
    const limit = context.args.limit === undefined ? 50 : Number(context.args.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      // thrown, so that --json gets the error event too
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `--limit expects a whole number of runs, got ${context.args.limit}`,
        {
          hint: "Give how many runs to list, newest first, e.g. --limit 10.",
        },
      );
    }
    // one more than asked: whether older runs were left out
    const { name, stateDir: dir, runs: found } = pipelineRuns(pipeline, { stateDir, limit: limit + 1 });
    const more = found.length > limit;
    const runs = more ? found.slice(0, limit) : found;
    if (context.args.json) {
      ctx.io.stdout.write(`${JSON.stringify({ name, stateDir: dir, runs, more }, null, 2)}\n`);
      return ExitCode.OK;
    }
    if (runs.length === 0) {
      ctx.io.stdout.write(`${name}: no run yet (state: ${dir})\n`);
      return ExitCode.OK;
    }
    const rows = runs.map((r) => [
      r.id,
      r.status,
      new Date(r.createdAt).toISOString().replace("T", " ").slice(0, 19),
      r.finishedAt ? duration(r.finishedAt - r.createdAt) : "-",
      r.read === null ? "-" : fmt(r.read),
      okCell(r.counters),
      fmt(r.counters.failed),
      spent(r.counters),
      fmt(r.counters.batches),
    ]);
    const header = ["run", "status", "started (UTC)", "took", "read", "ok", "failed", "cost", "batches"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    // text left, numbers right
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd();
    const older = more
      ? [
          `(the newest ${fmt(limit)}; older runs: ${pipelineCommand("runs", context.args, `--limit ${limit + 50}`, ctx.cli)})`,
        ]
      : [];
    ctx.io.stdout.write(`${[line(header), ...rows.map(line), ...older].join("\n")}\n`);
    return ExitCode.OK;
  },
});

/** "30", or "30 (10 cut)": the answers cut short among them (`status` says why) */
function okCell(c: RunCounters): string {
  const cut = Object.values(c.cutByReason).reduce((sum, n) => sum + n, 0);
  return cut > 0 ? `${fmt(c.succeeded)} (${fmt(cut)} cut)` : fmt(c.succeeded);
}
