/** `batchpipe schema`: print the JSON Schema of pipeline specs (committed at packages/core/schema/pipeline.schema.json). */
import { defineCommand } from "citty";
import { createPipelineJsonSchema } from "../../spec/json-schema.js";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

export default defineCommand({
  meta: { name: "schema", description: "Print the JSON Schema of pipeline specs (for editors)" },
  args: {},
  async run(context) {
    const { io } = cliContext(context);
    io.stdout.write(`${JSON.stringify(await createPipelineJsonSchema(), null, 2)}\n`);
    return ExitCode.OK;
  },
});
