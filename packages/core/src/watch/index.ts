export { type WatchEvent, type WatchOptions, type WatchSummary, watchPipeline } from "./watch-pipeline.js";
