/** `batchpipe validate <pipeline.yaml>`: load the spec and its plugins, print every problem or a one-line summary. */
import path from "node:path";
import {
  checkFirstRecord,
  checkPipeline,
  displayMessage,
  displayPath,
  type FirstRecordCheck,
  loadPipeline,
} from "@batchpipe/core";
import { defineCommand } from "citty";
import { pipelineArg } from "../args.js";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { officialPlugins } from "../official-plugins.js";
import { plural } from "./run-output.js";

export default defineCommand({
  meta: { name: "validate", description: "Check a pipeline spec and its plugins without running it" },
  args: {
    pipeline: pipelineArg,
    "allow-inline-secrets": {
      type: "boolean",
      description:
        "Accept secrets written inline (provider.api_key, a password in a URL) instead of as environment variable references",
    },
  },
  async run(context) {
    const { io, cwd, env } = cliContext(context);
    const file = path.resolve(cwd, context.args.pipeline);
    const pipeline = await loadPipeline(file, {
      env,
      allowInlineSecrets: context.args["allow-inline-secrets"],
      builtins: officialPlugins,
    });
    // paths, keys and output folders, checked against this machine
    checkPipeline(pipeline, { env });
    // a template that fails on the first record fails on them all
    const first = await checkFirstRecord(pipeline);
    // the errors sinks too (the default one when the spec names none): where failures go
    const sinks = `${plural(pipeline.sinks.length, "sink")}, ${plural(pipeline.errors.length, "errors sink")}`;
    const parts = `source ${pipeline.source.plugin.name}, transform ${pipeline.transform.plugin.name}, ${sinks}`;
    io.stdout.write(`✓ ${displayPath(file, cwd)} is valid (${parts})\n`);
    if (!first.found) io.stderr.write(`⚠ ${noRecordWarning(first, cwd)}\n`);
    return ExitCode.OK;
  },
});

/** a source without a record the run could send: none at all, or none it could parse */
function noRecordWarning({ invalid, firstInvalid }: FirstRecordCheck, cwd: string): string {
  if (invalid === 0 || !firstInvalid) return "the source has no records: a run would have nothing to send";
  // its file named from the current folder, as the CLI's errors and warnings name theirs
  const message = displayMessage(firstInvalid.invalid.message, cwd);
  const all = invalid === 1 ? "its only record is invalid" : `all ${plural(invalid, "record")} are invalid`;
  return `the source has no record a run could send: ${all} (the first: ${message}); a run would write ${invalid === 1 ? "it as a failure row" : "each as a failure row"}. Fix the data or the source's options (e.g. types, columns), then validate again`;
}
