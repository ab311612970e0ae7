/**
 * Why a file of the state folder (state.db, run.lock) could not be opened, said with its cause and
 * what to do: a damaged file is not a question of permissions, and SQLite's "unable to open
 * database file" does not say that the folder is read-only.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, systemError } from "../errors.js";

export function stateOpenFailed(what: string, file: string, error: unknown): BatchpipeError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB") {
    return new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `${what} ${file} is damaged: ${(error as Error).message}`,
      {
        hint: "It was cut short or written over (a full disk, a copy taken while a run wrote it). Restore the state folder from a backup. Without one, move the file aside and run again: batches this pipeline has at the provider then stop the run with STATE_LOST, and `--force` (from code: force: true) sends again what the result cache does not answer.",
        cause: error,
      },
    );
  }
  const reason = systemError(error) ?? systemError(folderProblem(path.dirname(file)));
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `cannot open ${what} ${file}: ${reason?.message ?? (error as Error)?.message ?? String(error)}`,
    {
      hint: "Check the state folder's permissions and free space (a read-only folder cannot hold a run), or move the state elsewhere with --state-dir (from code: the stateDir option, workConfig.state_dir).",
      cause: error,
    },
  );
}

/** SQLite's SQLITE_CANTOPEN names no cause: the folder's own (EROFS, EACCES), if it has one */
function folderProblem(dir: string): unknown {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (error) {
    return error;
  }
}
