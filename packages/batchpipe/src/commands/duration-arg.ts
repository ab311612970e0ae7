/** A command's duration flag (`--settle 500ms`): milliseconds, or a usage error naming the flag. */
import { BatchpipeError, ErrorCodes, parseDuration } from "@batchpipe/core";

/** undefined when the flag is not given; a value that is not a duration is a usage error (exit 2) */
export function durationArg(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  throw new BatchpipeError(ErrorCodes.USAGE, `--${flag} expects a duration, got "${value}"`, {
    hint: `Give a number with a unit: ms, s, m, h or d (--${flag} 500ms, --${flag} 2s, --${flag} 1m).`,
  });
}
