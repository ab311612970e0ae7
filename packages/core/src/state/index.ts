export { acquireLock, LOCK_FILE, lockHolder, processStartTime, type StateLock } from "./lock.js";
export { STATE_SCHEMA_VERSION } from "./schema.js";
export * from "./state-db.js";
export * from "./types.js";
