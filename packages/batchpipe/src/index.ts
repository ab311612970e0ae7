export type { CliIo } from "./context.js";
export { ExitCode } from "./exit-codes.js";
export { officialPlugins } from "./official-plugins.js";
export { BatchRunner, runSpec } from "./programmatic.js";
export { type RunCliOptions, runCli } from "./run-cli.js";
