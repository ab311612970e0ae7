/** `batchpipe cancel <pipeline.yaml>`: cancel the open batches of the unfinished run. */
import path from "node:path";
import { defineCommand } from "citty";
import { cancelRun } from "../../engine/status.js";
import { loadPipeline } from "../../spec/load.js";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

export default defineCommand({
  meta: {
    name: "cancel",
    description:
      "Cancel the unfinished run: its open batches are cancelled; finished results are still delivered",
  },
  args: {
    pipeline: {
      type: "positional",
      description: "The pipeline file",
      valueHint: "pipeline.yaml",
      required: true,
    },
    "state-dir": {
      type: "string",
      description: "Where the run state lives (default .batchpipe/<name> beside the spec)",
    },
    "allow-inline-secrets": { type: "boolean", description: "Accept provider.api_key written inline" },
  },
  async run(context) {
    const { io, cwd, env } = cliContext(context);
    const file = path.resolve(cwd, context.args.pipeline);
    const pipeline = await loadPipeline(file, {
      env,
      allowInlineSecrets: context.args["allow-inline-secrets"],
    });
    const result = await cancelRun(pipeline, {
      stateDir: context.args["state-dir"] ? path.resolve(cwd, context.args["state-dir"]) : undefined,
      env,
    });
    io.stdout.write(
      `■ run ${result.run}: cancel requested; ${result.cancelled.length} open batch${result.cancelled.length === 1 ? "" : "es"} cancelled\n`,
    );
    for (const f of result.failed) io.stderr.write(`  ⚠ could not cancel ${f.batchId}: ${f.message}\n`);
    io.stdout.write(
      `  A running \`batchpipe run\` delivers the finished results and stops; if none is running, \`batchpipe run ${context.args.pipeline}\` does it.\n`,
    );
    return result.failed.length > 0 ? ExitCode.RUN_ERROR : ExitCode.OK;
  },
});
