import { BatchpipeError } from "./errors.js";
import type { Checkpoint, InvalidRecord, RecordPosition } from "./plugin.js";

/**
 * The files read before a cursor's file, as `[path, size]` pairs: a file source puts them in its
 * cursors (`before`, one array shared by a file's records) so that a resume can tell that files
 * sorting before the cursor's were added, removed or resized since (their records would be lost,
 * or read twice).
 */
export type FilesBefore = [file: string, size: number][];

/**
 * Where a file source resumes: the index in `files` of the cursor's file and the cursor, checked to
 * have a string `file` and the integer `fields`; `{ first: 0 }` without a checkpoint. A cursor with
 * `before` (see FilesBefore) is refused when the files before its file are no longer those (with
 * `sizes`, the files' sizes now); a cursor without it (written by an earlier build) is not checked.
 */
export function resumePoint<C extends { file: string }>(
  files: readonly string[],
  checkpoint: Checkpoint | undefined,
  options: { fields: readonly (keyof C & string)[]; plugin: string; sizes?: readonly number[] },
): { first: number; cursor: C | undefined } {
  if (checkpoint === undefined) return { first: 0, cursor: undefined };
  const cursor = checkpoint as Record<string, unknown> | null;
  if (
    cursor === null ||
    typeof cursor !== "object" ||
    typeof cursor.file !== "string" ||
    !options.fields.every((field) => Number.isSafeInteger(cursor[field]))
  ) {
    const shape = ["file", ...options.fields].join(", ");
    throw new BatchpipeError(
      "SOURCE_FAILED",
      `cannot resume from the checkpoint ${JSON.stringify(checkpoint)}`,
      {
        hint: `The checkpoint is not a ${options.plugin} cursor ({ ${shape} }); the run state may be corrupt.`,
        plugin: options.plugin,
      },
    );
  }
  const first = files.indexOf(cursor.file);
  if (first === -1) throw cannotResume(`${cursor.file} is no longer an input`, options.plugin);
  if (Array.isArray(cursor.before) && options.sizes) {
    const now = files.slice(0, first).map((file, i): [string, number] => [file, options.sizes![i]!]);
    const changes = filesChanged(cursor.before as FilesBefore, now);
    if (changes.length > 0) throw filesBeforeChanged(cursor.file, changes, options.plugin);
  }
  return { first, cursor: cursor as unknown as C };
}

/** SOURCE_FAILED for inputs that changed since the run started */
export function cannotResume(reason: string, plugin: string): BatchpipeError {
  return new BatchpipeError("SOURCE_FAILED", `cannot resume: ${reason}`, {
    hint: "The input files changed since the run started; restore them or start a new run.",
    plugin,
  });
}

/** what differs between the files read before the cursor's file and those that sort before it now */
function filesChanged(then: FilesBefore, now: FilesBefore): string[] {
  const sizes = new Map(now);
  const changes: string[] = [];
  for (const [file, size] of then) {
    const current = sizes.get(file);
    if (current === undefined) changes.push(`${file} (read before) is gone or now sorts after it`);
    else if (current !== size) changes.push(`${file} was ${size} bytes when read, now ${current}`);
    sizes.delete(file);
  }
  for (const file of sizes.keys()) changes.push(`${file} is new`);
  return changes;
}

function filesBeforeChanged(file: string, changes: string[], plugin: string): BatchpipeError {
  const shown = changes.length > 10 ? [...changes.slice(0, 10), `and ${changes.length - 10} more`] : changes;
  return new BatchpipeError(
    "SOURCE_FAILED",
    `cannot resume: the input files that sort before ${file}, where reading stopped, changed since they were read: ${shown.join("; ")}`,
    {
      hint: "Resuming would skip their records (or read them twice). Restore those files as they were and run again; or `batchpipe cancel` (from code: cancelRun) the run and run again: the result cache answers the requests that already succeeded. Files that sort after it may be added: they are read.",
      plugin,
    },
  );
}

/** an `invalid_input` record whose message starts with `file:line:` */
export function invalidInput(message: string, position: RecordPosition, cursor: Checkpoint): InvalidRecord {
  return {
    invalid: { code: "invalid_input", message: `${position.file}:${position.line}: ${message}` },
    position,
    cursor,
  };
}

/** `on_invalid: fail`: the invalid record stops the run with SOURCE_FAILED at its file:line */
export function invalidInputError(
  item: InvalidRecord,
  options: { plugin: string; hint: string },
): BatchpipeError {
  const { file, line } = item.position;
  return new BatchpipeError("SOURCE_FAILED", item.invalid.message, {
    loc: { file, line, column: 1 },
    hint: options.hint,
    plugin: options.plugin,
  });
}
