/** What the batch.max_outage tests share: retries that outlast the outage, a run that meets one, how it must stop. */
import { expect } from "vitest";
import { type ChildOptions, type ChildRun, type EmulatorProcess, startBatchpipe } from "./harness.js";

/** provider lines: the provider's retries of one call span ~17–23 s (1 + 2 + 4 × 5 s, with jitter) */
export const SLOW_RETRIES = ["retry_attempts: 8", "retry_min_delay_ms: 1000", "retry_max_delay_ms: 4000"];

export interface OutageRun {
  done: Promise<ChildRun>;
  /** when the outage began (Date.now()), 0 before */
  outageAt(): number;
}

/**
 * `batchpipe <args>` in a child process (90 s at most unless `o.timeoutMs`); when its first shard
 * is submitted, the emulator's faults become `faults`: the outage begins. `o.onEvent` still sees
 * every event.
 */
export function startIntoOutage(
  emulator: EmulatorProcess,
  args: string[],
  faults: unknown[],
  o: ChildOptions = {},
): OutageRun {
  let outageAt = 0;
  const running = startBatchpipe(args, {
    timeoutMs: 90_000,
    ...o,
    onEvent: (event, child) => {
      if (event.type === "shard_submitted" && outageAt === 0) {
        outageAt = Date.now();
        void emulator.configure({ faults });
      }
      o.onEvent?.(event, child);
    },
  });
  return { done: running.done, outageAt: () => outageAt };
}

/**
 * `run` stopped on batch.max_outage (`maxOutageS` seconds): exit 1, PROVIDER_UNREACHABLE, less than
 * `slackS` (default 4: a turn of the loop and a loaded machine's slack) after max_outage from `since`
 */
export function expectStoppedByOutage(
  run: ChildRun,
  o: { since: number; maxOutageS: number; slackS?: number },
): void {
  const seconds = (Date.now() - o.since) / 1000;
  expect(run.code, run.stderr).toBe(1);
  expect(o.since).toBeGreaterThan(0);
  expect(run.stderr).toContain(`longer than batch.max_outage (${o.maxOutageS} s)`);
  expect(run.stderr).toContain("PROVIDER_UNREACHABLE");
  expect(seconds, run.stderr).toBeLessThan(o.maxOutageS + (o.slackS ?? 4));
}
