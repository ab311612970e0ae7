export { acquireLock, LOCK_FILE, lockHolder, type StateLock } from "./lock.js";
export * from "./state-db.js";
