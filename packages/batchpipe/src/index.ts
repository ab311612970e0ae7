export type { CliIo } from "./context.js";
export { ExitCode } from "./exit-codes.js";
export { officialPlugins } from "./official-plugins.js";
export { type RunCliOptions, runCli } from "./run-cli.js";
