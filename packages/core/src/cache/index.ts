export {
  CACHE_FILE,
  type CachedResult,
  type CacheHit,
  type CacheLookup,
  type CacheStats,
  cacheStats,
  clearCache,
  ResultCache,
} from "./result-cache.js";
