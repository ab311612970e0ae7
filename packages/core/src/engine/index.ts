/** the state's kv key of the queue budgets learnt from refusals (the viewer reads it) */
export { LEARNED_BUDGETS } from "./loop-context.js";
export type { RunEndNotice } from "./notify.js";
export { type PlanResult, type PlanShard, planPipeline } from "./plan-pipeline.js";
export { pipelineRuns, type RunSummary, shownRunStatus } from "./run-history.js";
export { buildReport, defaultStateDir, runPipeline } from "./run-pipeline.js";
export {
  type CancelResult,
  cancelRun,
  clearRunStop,
  pipelineStatus,
  recordRunStop,
  type StatusResult,
  type StopReason,
} from "./status.js";
export { type TryItem, type TryOptions, tryPipeline } from "./try-pipeline.js";
export type * from "./types.js";
