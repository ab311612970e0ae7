/** Arguments several commands share, so they read and document the same way. */

/** `<pipeline.yaml>`: the spec file, relative to the working directory */
export const pipelineArg = {
  type: "positional",
  description: "The pipeline file",
  valueHint: "pipeline.yaml",
  required: true,
} as const;
