export { CACHE_FILE, type CacheStats, cacheStats, clearCache } from "./cache-file.js";
export { type CachedResult, type CacheHit, type CacheLookup, ResultCache, UNPRICED } from "./result-cache.js";
export { cacheProvider } from "./tables.js";
