export { type GroupRow, openRegistry, type WatchedFile, type WatchRegistry } from "./registry.js";
export { globToRegExp, resolveWatchTarget, type WatchTarget } from "./target.js";
export { type WatchEvent, type WatchOptions, type WatchSummary, watchPipeline } from "./watch-pipeline.js";
