// What a library user of BatchRunner / runSpec needs, so that an app that depends on `batchpipe`
// alone has it (under pnpm it cannot import @batchpipe/core). The plugin API is `batchpipe/plugin`.
export {
  type BatchErrorItem,
  type BatchInputFields,
  type BatchInputItem,
  type BatchItemError,
  type BatchMessage,
  type BatchOutputItem,
  BatchpipeError,
  type BatchRunnerRunOptions,
  type BatchRunnerStateOptions,
  type CancelResult,
  cancelRun,
  clearCache,
  type DaemonInfo,
  type DaemonStatus,
  type DetachedRun,
  type EngineEvent,
  type ErrorCode,
  ErrorCodes,
  isBatchpipeError,
  type Pipeline,
  type PipelineSpec,
  type PluginRegistry,
  pipelineStatus,
  type RunOptions,
  type RunReport,
  type RunResult,
  type RunSpecOptions,
  readDaemon,
  runPipeline,
  type StatusResult,
  type StopResult,
  stopDaemon,
  type WatchEvent,
  type WatchOptions,
  type WatchSummary,
  type WorkConfig,
  watchPipeline,
} from "@batchpipe/core";
export type { CliIo } from "./context.js";
export { ExitCode } from "./exit-codes.js";
export { officialPlugins } from "./official-plugins.js";
export { BatchRunner, resolveSpec, runSpec } from "./programmatic.js";
export { type RunCliOptions, runCli } from "./run-cli.js";
