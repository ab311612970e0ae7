export { isFromCache } from "./cache/cached-shard.js";
export { type CacheStats, cacheStats, clearCache } from "./cache/index.js";
export * from "./daemon/index.js";
export {
  type CancelResult,
  cancelRun,
  clearRunStop,
  defaultStateDir,
  type EngineEvent,
  type EnginePipeline,
  type EngineTuning,
  LEARNED_BUDGETS,
  type PlanResult,
  type ProgressSnapshot,
  pipelineRuns,
  pipelineStatus,
  planPipeline,
  type RunEndNotice,
  type RunOptions,
  type RunReport,
  type RunResult,
  type RunSummary,
  recordRunStop,
  runPipeline,
  type StatusResult,
  type StopReason,
  shownRunStatus,
  type TryItem,
  type TryOptions,
  tryPipeline,
} from "./engine/index.js";
export * from "./errors.js";
export { estimateCost, livePricesFor, pricesFor, shardCost } from "./estimate/index.js";
export { failureHint } from "./failure-hints.js";
export { formatMoney } from "./format-money.js";
export type * from "./plugin.js";
export {
  OFFICIAL_PLUGINS,
  type PluginRegistry,
  type ResolvePluginOptions,
  resolvePlugin,
} from "./plugins/resolve.js";
export * from "./runner/index.js";
export { type CheckPipelineOptions, checkPipeline } from "./spec/check.js";
export { codeFrame } from "./spec/code-frame.js";
export { checkFirstRecord, type FirstRecordCheck } from "./spec/first-record.js";
export { displayMessage, displayPath, type FormatErrorOptions, formatSpecError } from "./spec/format.js";
export type { Env } from "./spec/interpolate.js";
export { closest } from "./spec/issues.js";
export { createPipelineJsonSchema } from "./spec/json-schema.js";
export {
  type LoadPipelineOptions,
  loadPipeline,
  type Pipeline,
  type ResolvedPlugin,
  type ResolvePipelineOptions,
  resolvePipeline,
} from "./spec/load.js";
export { SpecIssueError } from "./spec/locate.js";
export {
  type BatchSpec,
  formatBytes,
  type NotifyTarget,
  type PipelineSpec,
  type PluginRef,
  pipelineSchema,
} from "./spec/schema.js";
export { parseDuration, parseSize } from "./spec/units.js";
// for readers of a state folder (batchpipe view): who holds the run lock, the schema version, the rows
export {
  checkStateOwner,
  type LockHolder,
  lockHolder,
  openSqliteToRead,
  STATE_SCHEMA_VERSION,
} from "./state/index.js";
export {
  type RawRun,
  type RawShard,
  refuseVersion,
  type SqliteReader,
  schemaVersion,
  toRun,
  toShard,
} from "./state/schema.js";
export type {
  FailureExample,
  RunCounters,
  RunRow,
  RunStatus,
  RunTotals,
  ShardRow,
  ShardStatus,
} from "./state/types.js";
export { default as promptTransform, type PromptOptions } from "./transform/prompt.js";
export * from "./watch/index.js";
