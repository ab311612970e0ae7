import { BatchpipeError } from "./errors.js";
import type { Checkpoint, InvalidRecord, RecordPosition } from "./plugin.js";

/**
 * Where a file source resumes: the index in `files` of the cursor's file and the cursor, checked to
 * have a string `file` and the integer `fields`; `{ first: 0 }` without a checkpoint.
 */
export function resumePoint<C extends { file: string }>(
  files: readonly string[],
  checkpoint: Checkpoint | undefined,
  options: { fields: readonly (keyof C & string)[]; plugin: string },
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
  return { first, cursor: cursor as unknown as C };
}

/** SOURCE_FAILED for inputs that changed since the run started */
export function cannotResume(reason: string, plugin: string): BatchpipeError {
  return new BatchpipeError("SOURCE_FAILED", `cannot resume: ${reason}`, {
    hint: "The input files changed since the run started; restore them or start a new run.",
    plugin,
  });
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
