export { acquireLock, LOCK_FILE, lockHolder, processStartTime, type StateLock } from "./lock.js";
export * from "./state-db.js";
