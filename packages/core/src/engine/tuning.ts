/** RunOptions' tuning (EngineTuning) checked once, with its defaults. */
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { DEFAULT_CHECKPOINT_EVERY } from "./read/checkpoints.js";
import type { EngineTuning } from "./types.js";

export function resolveTuning(tuning: EngineTuning): {
  checkpointEvery: number;
  deliveryPartSize: number;
  deadline: { afterMs: number | null; graceMs: number };
} {
  const every = positiveCount("readCheckpointEvery", tuning.readCheckpointEvery, {
    fallback: DEFAULT_CHECKPOINT_EVERY,
    hint: "Give a record count such as 10000 (or leave it out for the default, 10,000).",
  });
  return {
    checkpointEvery: every,
    deliveryPartSize: positiveCount("deliveryPartSize", tuning.deliveryPartSize, {
      fallback: 5000,
      hint: "Give a request count such as 5000 (or leave it out for the default).",
    }),
    deadline: {
      afterMs: optionalCount("batchDeadlineMs", tuning.batchDeadlineMs) ?? null,
      // a batch may run this long past its completion window before it is cancelled
      graceMs: optionalCount("stuckGraceMs", tuning.stuckGraceMs) ?? 3_600_000,
    },
  };
}

function optionalCount(name: string, value: number | undefined): number | undefined {
  return value === undefined
    ? undefined
    : positiveCount(name, value, { fallback: 0, hint: "Give milliseconds." });
}

function positiveCount(
  name: string,
  value: number | undefined,
  o: { fallback: number; hint: string },
): number {
  if (value === undefined) return o.fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new BatchpipeError(ErrorCodes.USAGE, `${name} ${value} is not a positive whole number`, {
      hint: o.hint,
    });
  return value;
}
