export { acquireLock, type StateLock } from "./lock.js";
export * from "./state-db.js";
