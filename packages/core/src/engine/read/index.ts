export { DEFAULT_CHECKPOINT_EVERY, readIdentity } from "./checkpoints.js";
export { FanoutGate } from "./fanout-gate.js";
export { readFileLines, SyncWriter, syncFiles } from "./files.js";
export type { MayNotFit } from "./limits-check.js";
export { prepFailuresFile, tookId } from "./prep-failures.js";
export { interrupted, type ReadFailure, readFailure, withoutResume, withSubmitted } from "./read-errors.js";
export { type ReadPhaseOptions, type ReadPhaseResult, runReadPhase } from "./read-phase.js";
export { type ReadResume, ReadStartsOver } from "./resume.js";
export { NOT_SUBMITTED, retryShardName } from "./shard-writer.js";
