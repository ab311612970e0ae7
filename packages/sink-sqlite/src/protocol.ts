/** Messages between the sqlite sink's handles (index.ts) and its worker thread (worker.ts). */
import type { Checkpoint } from "@batchpipe/core/plugin";
import type { Value } from "./table.js";

export type Request = { id: number } & (
  | { op: "open"; path: string; table: string; checkpoint: Checkpoint | undefined }
  | { op: "write"; handle: number; values: Value[]; now: string }
  | { op: "commit"; handle: number; key: string }
  | { op: "committed"; handle: number; key: string }
  | { op: "close"; handle: number }
);

export type Reply =
  | { id: number; ok: true; value: unknown }
  | {
      id: number;
      ok: false;
      /** a BatchpipeError's fields, or another error's message (and SQLite's code, e.g. SQLITE_FULL) */
      error: { code?: string; message: string; hint?: string; plugin?: string; sqliteCode?: string };
    };
