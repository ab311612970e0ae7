/** `batchpipe plan <pipeline.yaml>`: read and shard locally, print shards, tokens and cost. No network. */

import { checkPipeline, displayMessage, failureHint, planPipeline } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, noCache, noCacheArg, pipelineArgs, stateDirArg } from "./pipeline-args.js";
import { cachedSaved, duration, fmt, money, plural, size } from "./run-output.js";

export default defineCommand({
  meta: {
    name: "plan",
    description: "Show the shards, tokens and cost a run would have, without any network call",
  },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    ...noCacheArg("Plan as run --no-cache: every request sent, none answered from the result cache"),
    json: { type: "boolean", description: "Print the plan as JSON" },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { io } = ctx;
    const { pipeline, stateDir } = await loadPipelineArg(ctx, context.args);
    // a wrong path or two sinks on one file, at its place in the spec, as `run` says it (no key needed)
    checkPipeline(pipeline, { env: ctx.env, stateDir, offline: true });
    const plan = await planPipeline(pipeline, { stateDir, noCache: noCache(context.args), env: ctx.env });
    if (context.args.json) {
      io.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      return ExitCode.OK;
    }
    const t = plan.totals;
    // shards answered from the result cache send nothing: they are listed below, marked (cached)
    const sent = plan.shards.filter((shard) => !shard.cached).length;
    const out: string[] = [];
    out.push(
      `plan for ${plan.name}: ${plural(t.read, "record")} → ${t.requests === 0 ? "nothing to send" : `${plural(t.requests, "request")} in ${plural(sent, "shard")}`}`,
    );
    if (t.identical)
      out.push(
        `  ${plural(t.identical, "record")} ${t.identical === 1 ? "repeats" : "repeat"} an identical request (sent once, result fanned back)`,
      );
    if (t.cached)
      out.push(
        `  ${plural(t.cached, "request")} ${t.cached === 1 ? "is" : "are"} answered from the result cache, not sent (${cachedSaved(t)}; run --no-cache sends them)`,
      );
    for (const [code, n] of Object.entries(plan.failedByCode)) {
      out.push(`  ✖ ${plural(n, "record")} ${n === 1 ? "fails" : "fail"} before sending: ${code}`);
      const first = plan.firstFailures[code];
      if (first)
        out.push(
          `      ${n === 1 ? "" : "the first, "}${first.id}: ${first.message}`,
          `      ${failureHint(code)}`,
        );
    }
    // what `run` would warn about as it reads
    const { warnings } = plan;
    // files named relative to the current folder, as errors are (--json keeps the absolute path)
    for (const message of warnings.first) out.push(`  ⚠ ${displayMessage(message, ctx.cwd)}`);
    if (warnings.count > warnings.first.length)
      out.push(`  ⚠ … and ${plural(warnings.count - warnings.first.length, "more warning")}`);
    const near = plan.mayNotFit;
    if (near.count > 0) {
      out.push(
        `  ⚠ ${plural(near.count, "request")} may not fit ${near.count === 1 ? "its" : "their"} model's context window (the input is an estimate: sent anyway; the provider fails what does not fit):`,
      );
      for (const { id, message } of near.first) out.push(`      ${id}: ${message}`);
      if (near.count > near.first.length) out.push(`      … and ${fmt(near.count - near.first.length)} more`);
    }
    out.push("");
    const shown = plan.shards.slice(0, 20);
    const table = [
      ["shard", "model", "endpoint", "requests", "size", "in tokens", "cost"],
      // a shard answered from the cache uploads nothing and sends no tokens (its file holds the results)
      ...shown.map((s) => [
        s.cached ? `${s.name} (cached)` : s.name,
        s.models.join(", ") || "-",
        s.endpoint,
        fmt(s.requests),
        s.cached ? "-" : size(s.bytes),
        s.cached ? "-" : fmt(s.inputTokens),
        s.cost === null ? "?" : money(s.cost),
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) {
      out.push(
        `  ${row.map((cell, i) => (i >= 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ")}`,
      );
    }
    if (plan.shards.length > shown.length)
      out.push(`  … and ${fmt(plan.shards.length - shown.length)} more shards`);
    out.push("");
    out.push(`  estimated input tokens   ${fmt(t.estimatedInputTokens)}`);
    out.push(`  estimated output tokens  ${fmt(t.estimatedOutputTokens)} (max_tokens, or a default guess)`);
    out.push(`  estimated cost           ${money(t.estimatedCost)} at batch prices`);
    const max = pipeline.spec.batch.max_cost;
    if (max !== null && t.estimatedCost === null) {
      out.push(
        `  ⚠ batch.max_cost is set but the cost is unknown: \`run\` would refuse until the model is priced under \`pricing:\``,
      );
    }
    if (max !== null && t.estimatedCost !== null && t.estimatedCost > max) {
      out.push(`  ⚠ over batch.max_cost (${money(max)}): \`run\` would refuse before submitting anything`);
    }
    const deadline = pipeline.spec.batch.deadline;
    if (deadline !== null) {
      out.push(
        `  if batch.deadline (${duration(deadline)}) passes before any batch ends: up to ${money(plan.liveWorstCase)} at live prices`,
      );
      const live = plan.liveWorstCase;
      if (max !== null && live !== null && live > max && (t.estimatedCost === null || t.estimatedCost <= max))
        out.push(
          `  ⚠ that worst case, ${money(live)}, is over batch.max_cost (${money(max)}): a run whose deadline passes with this much undone stops with BUDGET_EXCEEDED before the live shard that would pass the cap (the rest waits until it resumes under a higher cap). To answer all of it live, raise batch.max_cost to ${money(live)}; or set a later batch.deadline, so that fewer requests are left to go live`,
        );
    }
    if (plan.unfinishedRun)
      out.push(
        `  ⚠ run ${plan.unfinishedRun} is unfinished: \`run\` resumes it (sending only what it has not sent) instead of this plan; \`${ctx.cli} status\` shows it`,
      );
    out.push("  (nothing was sent: plan reads and shards locally)");
    io.stdout.write(`${out.join("\n")}\n`);
    return ExitCode.OK;
  },
});
