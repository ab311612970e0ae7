/** The run's counters: one type for the run's totals and for what one delivery adds to them. */
import type { FailureRow } from "../plugin.js";
import { emptyCounters, type RunCounters } from "../state/index.js";

export { emptyCounters, type RunCounters };

export function addCounters(counters: RunCounters, delta: RunCounters): RunCounters {
  const next = structuredClone(counters);
  next.succeeded += delta.succeeded;
  next.failed += delta.failed;
  for (const [code, n] of Object.entries(delta.failedByCode))
    next.failedByCode[code] = (next.failedByCode[code] ?? 0) + n;
  next.retried += delta.retried;
  next.unexpected += delta.unexpected;
  next.missing += delta.missing;
  next.batches += delta.batches;
  next.queueRefusals += delta.queueRefusals;
  next.inputTokens += delta.inputTokens;
  next.outputTokens += delta.outputTokens;
  next.cost += delta.cost;
  next.answeredLive += delta.answeredLive;
  next.unpriced += delta.unpriced;
  for (const [reason, n] of Object.entries(delta.cutByReason))
    next.cutByReason[reason] = (next.cutByReason[reason] ?? 0) + n;
  for (const [code, example] of Object.entries(delta.firstFailures)) next.firstFailures[code] ??= example;
  return next;
}

/** count one final failure (the first of its code is kept as its example) */
export function countFailure(counters: RunCounters, row: Pick<FailureRow, "id" | "error">): void {
  const { code, message } = row.error;
  counters.failed++;
  counters.failedByCode[code] = (counters.failedByCode[code] ?? 0) + 1;
  counters.firstFailures[code] ??= { id: row.id, message };
}

/** the successes whose answer was cut short, whatever the reason */
export function cutTotal(counters: Pick<RunCounters, "cutByReason">): number {
  let total = 0;
  for (const n of Object.values(counters.cutByReason)) total += n;
  return total;
}
