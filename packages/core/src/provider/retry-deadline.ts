/**
 * The deadline of a provider call's own retries, set by the engine around each call (the end of
 * batch.max_outage) and read by withRetries however deep in a provider it runs: an
 * AsyncLocalStorage, so no provider contract carries it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** the deadline of the retries of the calls made inside withRetryDeadline */
const retryDeadline = new AsyncLocalStorage<(startedAt: number) => number>();

/**
 * Runs `fn` with a deadline for the retries of every `withRetries` call made inside it (however deep
 * in a provider): `deadline(startedAt)`, given when the call began, is the time (ms) after which no
 * retry may start; a call whose next retry would start later fails with its last failure instead.
 * An attempt in flight is never cut: a slow upload that is being answered is not an outage. The
 * engine sets it to the end of batch.max_outage, so that one call's own retries (minutes of them)
 * cannot keep a run going long past it.
 */
export function withRetryDeadline<T>(
  deadline: (startedAt: number) => number,
  fn: () => Promise<T>,
): Promise<T> {
  return retryDeadline.run(deadline, fn);
}

/** the deadline of the innermost enclosing withRetryDeadline, if any */
export function currentRetryDeadline(): ((startedAt: number) => number) | undefined {
  return retryDeadline.getStore();
}
