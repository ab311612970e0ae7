export { CACHE_FILE, type CacheStats, cacheStats, clearCache } from "./cache-file.js";
export {
  type CachedResult,
  type CacheHit,
  type CacheLookup,
  cacheProvider,
  ResultCache,
} from "./result-cache.js";
