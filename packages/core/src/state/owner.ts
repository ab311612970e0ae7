/**
 * A state folder belongs to one pipeline name: its runs, its result cache and its watch registry
 * answer for that pipeline alone. Two pipelines given one `--state-dir` would otherwise resume,
 * cancel and deliver each other's runs, and answer each other's requests from the cache. The name
 * is in a file of its own (not state.db), so the cache and watch commands can check it without
 * opening the state.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { makeStateDir } from "./lock.js";

export const OWNER_FILE = "pipeline";

/**
 * Refuse (STATE_FAILED) a state folder that belongs to another pipeline name. `claim`: a folder
 * that names none (new, or made by an earlier batchpipe) becomes `name`'s; for commands that only
 * read, it stays unclaimed.
 */
export function checkStateOwner(dir: string, name: string, o: { claim: boolean }): void {
  const file = path.join(dir, OWNER_FILE);
  // a folder that cannot be made says why (STATE_FAILED from makeStateDir)
  if (o.claim) makeStateDir(dir);
  let owner: string | undefined;
  try {
    owner = fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // no folder yet (or a file where one would be): nothing claimed it
    if (code !== "ENOENT" && code !== "ENOTDIR") throw ownerFailed(file, error);
  }
  if (owner === undefined) {
    if (!o.claim) return;
    try {
      fs.writeFileSync(file, `${name}\n`, { mode: 0o600 });
    } catch (error) {
      throw ownerFailed(file, error);
    }
    return;
  }
  if (owner !== name)
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `the state folder ${dir} belongs to the pipeline "${owner}", not "${name}"`,
      {
        hint: `Give each pipeline a state folder of its own: leave out --state-dir (from code: the stateDir option, workConfig.state_dir) for the default, .batchpipe/<name> beside the spec, or name another folder. If the pipeline was renamed, write its new name into ${file}.`,
      },
    );
}

function ownerFailed(file: string, error: unknown): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `cannot read or write ${file}: ${(error as Error).message}`,
    {
      hint: "Check the state folder's permissions and free space, or move the state elsewhere with --state-dir (from code: the stateDir option, workConfig.state_dir).",
      cause: error,
    },
  );
}
