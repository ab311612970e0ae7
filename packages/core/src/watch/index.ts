export { readWatchCounts, type WatchSummaryCounts } from "./registry.js";
export { type WatchEvent, type WatchOptions, type WatchSummary, watchPipeline } from "./watch-pipeline.js";
