export {
  acquireLock,
  acquireLockSync,
  describeHolder,
  isAlive,
  isHeld,
  LOCK_FILE,
  type LockHolder,
  lockHolder,
  makeStateDir,
  ownerOnly,
  processStartTime,
  type StateLock,
  writeAtomic,
} from "./lock.js";
export { checkStateOwner, OWNER_FILE } from "./owner.js";
export { openSqliteToRead } from "./read-only.js";
export { STATE_SCHEMA_VERSION } from "./schema.js";
export * from "./state-db.js";
export * from "./types.js";
