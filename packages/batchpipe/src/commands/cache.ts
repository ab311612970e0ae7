/** `batchpipe cache <pipeline.yaml> [--clear]`: the pipeline's result cache: entries, size, age; or empty it. */

import fs from "node:fs";
import { cacheStats, checkStateOwner, clearCache, defaultStateDir, formatBytes } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, pipelineArgs, pipelineCommand, stateDirArg } from "./pipeline-args.js";
import { fmt, plural, size } from "./run-output.js";

export default defineCommand({
  meta: {
    name: "cache",
    description:
      "Show the pipeline's result cache (the successes later runs take instead of paying again), or empty it",
  },
  args: {
    ...pipelineArgs,
    ...stateDirArg,
    clear: {
      type: "boolean",
      description: "Empty the cache: the next run sends (and pays for) every request again",
    },
    json: { type: "boolean", description: "Print the figures as JSON" },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { pipeline, stateDir: given } = await loadPipelineArg(ctx, context.args, { keyUnused: true });
    const stateDir = given ?? defaultStateDir(pipeline);
    const name = pipeline.spec.name;
    checkStateOwner(stateDir, name, { claim: false });
    if (context.args.clear) {
      // no state folder: nothing to clear, and clearing makes none (the lock would)
      const before = fs.existsSync(stateDir) ? clearCache(stateDir) : undefined;
      if (context.args.json)
        ctx.io.stdout.write(`${JSON.stringify({ name, stateDir, cleared: before ?? null })}\n`);
      else
        ctx.io.stdout.write(
          !before
            ? `✓ nothing to clear: the result cache of ${name} is already empty (state: ${stateDir})\n`
            : "unreadable" in before
              ? `✓ cleared the result cache of ${name} (its figures could not be read: ${before.unreadable})\n`
              : `✓ cleared the result cache of ${name}: ${plural(before.entries, "entry", "entries")}, ${size(before.fileBytes)} on disk\n`,
        );
      return ExitCode.OK;
    }
    const stats = cacheStats(stateDir);
    if (context.args.json) {
      ctx.io.stdout.write(`${JSON.stringify({ name, stateDir, cache: stats ?? null }, null, 2)}\n`);
      return ExitCode.OK;
    }
    if (!stats || stats.entries === 0) {
      ctx.io.stdout.write(`${name}: the result cache is empty (state: ${stateDir})\n`);
      return ExitCode.OK;
    }
    const when = (ms: number | null) =>
      ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
    const rows: [string, string][] = [
      ["entries", fmt(stats.entries)],
      [
        "on disk",
        `${size(stats.fileBytes)} (${size(stats.bytes)} of compressed results; bound: batch.cache_max_size ${formatBytes(pipeline.spec.batch.cache_max_size)})`,
      ],
      ["oldest", `${when(stats.oldest)} UTC`],
      ["newest", `${when(stats.newest)} UTC`],
    ];
    ctx.io.stdout.write(
      `result cache of ${name} (${stateDir}/cache.db)\n${rows.map(([k, v]) => `  ${k.padEnd(9)}${v}`).join("\n")}\n  (${pipelineCommand("cache", context.args, "--clear", ctx.cli)} empties it; run --no-cache sends everything again)\n`,
    );
    return ExitCode.OK;
  },
});
