export {
  BatchRunner,
  type BatchRunnerRunOptions,
  type BatchRunnerStateOptions,
  type DetachedRun,
} from "./batch-runner.js";
export type {
  BatchErrorItem,
  BatchInputFields,
  BatchInputItem,
  BatchItemError,
  BatchMessage,
  BatchOutputItem,
} from "./items.js";
export { type RunSpecOptions, resolveSpec, runSpec } from "./run-spec.js";
export { type WorkConfig, workConfigSchema } from "./work-config.js";
