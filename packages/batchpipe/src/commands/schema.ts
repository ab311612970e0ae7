/** `batchpipe schema`: print the JSON Schema of pipeline specs (committed at packages/core/schema/pipeline.schema.json). */

import { createPipelineJsonSchema } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { officialPlugins } from "../official-plugins.js";

export default defineCommand({
  meta: { name: "schema", description: "Print the JSON Schema of pipeline specs (for editors)" },
  args: {},
  async run(context) {
    const { io } = cliContext(context);
    io.stdout.write(
      `${JSON.stringify(await createPipelineJsonSchema({ builtins: officialPlugins }), null, 2)}\n`,
    );
    return ExitCode.OK;
  },
});
