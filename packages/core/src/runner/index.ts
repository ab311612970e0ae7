export { BatchRunner, type BatchRunnerRunOptions, type DetachedRun, runnerSpec } from "./batch-runner.js";
export {
  createCallbackSink,
  createItemTransform,
  createUploadSource,
  type DownloadFunction,
  type UploadFunction,
} from "./inline-plugins.js";
export type { BatchErrorItem, BatchInputItem, BatchItemError, BatchOutputItem } from "./items.js";
export { type RunSpecOptions, resolveSpec, runSpec } from "./run-spec.js";
export { type ParsedWorkConfig, parseWorkConfig, type WorkConfig, workConfigSchema } from "./work-config.js";
