/** The shared words between a database file's writer (wal.ts) and its helper thread (checkpointer.ts). */

/** word 0: requests, as bits */
export const FLUSH = 1;
export const CHECKPOINT = 2;
export const CLOSE = 4;
/** word 1: the helper failed (an fsync or a checkpoint) */
export const FAILED = 1;

export interface WalHelperData {
  path: string;
  /** Int32Array over a SharedArrayBuffer: [requests, failed] */
  flags: Int32Array;
}
