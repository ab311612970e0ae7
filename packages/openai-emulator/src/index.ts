export type { AnthropicState } from "./anthropic/engine.js";
export type { MessageBatch, ProcessingStatus, RequestCounts } from "./anthropic/types.js";
export type { QueueOccupancy } from "./batches/queue.js";
export type { BatchError, BatchObject, BatchStatus, BatchUsage } from "./batches/types.js";
export { createEmulator, type Emulator } from "./emulator.js";
export type { FileObject } from "./files/store.js";
export {
  DEFAULT_ENDPOINTS,
  DEFAULT_MODELS,
  type EmulatorOptions,
  type FaultKind,
  type FaultRule,
  type LatencyOptions,
  type LineErrorKind,
  type LineOddity,
  type LineRule,
  type ResolvedOptions,
} from "./options.js";
export { sampleFromSchema } from "./responder/json-schema.js";
export { estimateRequestTokens, estimateTextTokens } from "./responder/tokens.js";
export type { BatchState, EmulatorState, FileState } from "./state.js";
