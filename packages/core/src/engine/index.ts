export { type PlanResult, type PlanShard, planPipeline } from "./plan-pipeline.js";
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
export type * from "./types.js";
