// A stop (Ctrl-C, `batchpipe stop`'s SIGTERM) while a cancel or a clean-up is retrying through an
// outage. The provider contract gave cancel() and cleanUp() no abort signal, so their retry pauses
// ran on after the stop: through an outage answering retry-after 4 s (8 attempts, 28 s) the run
// exited only when the call gave up. They now get the run's signal, as every other call does.
import fs from "node:fs";
import path from "node:path";
import { type BatchpipeError, cancelRun, loadPipeline } from "@batchpipe/core";
import { afterEach, describe, expect, it } from "vitest";
import { writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type EmulatorProcess,
  officialPlugins,
  records,
  signalOnce,
  startBatchpipe,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** an outage whose answers say retry-after 4 s: one call's 8 attempts span 28 s */
const OUTAGE = { status: 503, retryAfter: 4 };
/** how long after the stop the run must have exited (it saves its state) */
const STOP_WITHIN_MS = 2500;

function spec(dir: string, dialect: "openai" | "anthropic", batch: Record<string, string | number>): string {
  if (dialect === "openai") {
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(4));
    return writePipeline(dir, { baseUrl: emulator!.url, provider: ["retry_attempts: 8"], batch });
  }
  writeAnthropicPipeline(dir, {
    name: "stop-during-retries",
    baseUrl: emulator!.origin,
    n: 4,
    provider: ["retry_attempts: 8"],
    batch,
  });
  return path.join(dir, "pipeline.yaml");
}

/** an emulator whose batches never get anywhere during the test; only a batch's cancel meets the outage */
function startCancelOutage(dialect: "openai" | "anthropic"): Promise<EmulatorProcess> {
  const route = dialect === "openai" ? "POST /v1/batches/:id/cancel" : "POST /v1/messages/batches/:id/cancel";
  return startEmulatorProcess({
    timeScale: 1,
    latencies: { linesPerSecond: 0.001, validation: 0.05 },
    faults: [{ ...OUTAGE, route }],
  });
}

const env = { OPENAI_API_KEY: "sk-test", ANTHROPIC_API_KEY: "sk-ant-test" };

describe.each(["openai", "anthropic"] as const)(
  "a stop during a retrying call ends the run at once (%s)",
  (dialect) => {
    it("the deadline's cancel, retrying through a 503 outage: SIGTERM ends the run within ~2 s", async () => {
      emulator = await startCancelOutage(dialect);
      const dir = tempDir();
      // a long max_outage, so that only the stop can end the run
      const file = spec(dir, dialect, { max_outage: "10m", deadline: "4s", poll_interval: "5s" });
      let stoppedAt = 0;
      const child = startBatchpipe(["run", file, "--json"], {
        cwd: dir,
        env,
        timeoutMs: 90_000,
        onEvent: (event, proc) => {
          // the cancel's first attempt fails at once: the stop comes in its first retry pause
          if (event.type === "warning" && String(event.message).includes("passed batch.deadline")) {
            setTimeout(() => {
              stoppedAt = Date.now();
              signalOnce(proc, "SIGTERM");
            }, 1500);
          }
        },
      });
      const run = await child.done;
      const ms = Date.now() - stoppedAt;
      const warning = run.events.find(
        (e) => e.type === "warning" && String(e.message).includes("passed batch.deadline"),
      );
      // the batch was open at the deadline: its cancel was under way
      expect(warning?.message, run.stderr).toMatch(/1 open batch cancelled/);
      expect(stoppedAt, run.stderr).toBeGreaterThan(0);
      expect(run.code, run.stderr).toBe(143);
      expect(run.events.at(-1)).toMatchObject({ type: "interrupted", signal: "SIGTERM" });
      // the cancel was still retrying: nothing said it failed
      expect(run.events.some((e) => e.type === "warning" && /could not cancel/.test(String(e.message)))).toBe(
        false,
      );
      expect(ms, run.stderr).toBeLessThan(STOP_WITHIN_MS);
    }, 60_000);

    it("cancelRun (`batchpipe cancel` with no run going), retrying through a 503 outage: its signal ends it within ~2 s", async () => {
      emulator = await startCancelOutage(dialect);
      const dir = tempDir();
      const file = spec(dir, dialect, { poll_interval: "5s" });
      // a run that leaves its batch open at the provider (killed once it is submitted)
      const killed = await batchpipe(["run", file, "--json"], {
        cwd: dir,
        env,
        timeoutMs: 60_000,
        onEvent: (event, proc) => {
          if (event.type === "shard_submitted") signalOnce(proc, "SIGKILL");
        },
      });
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      const pipeline = await loadPipeline(file, { env, builtins: officialPlugins });
      const controller = new AbortController();
      let stoppedAt = 0;
      // the cancel's first attempt fails at once: the stop comes in its first retry pause
      setTimeout(() => {
        stoppedAt = Date.now();
        controller.abort();
      }, 1500);
      const error = (await cancelRun(pipeline, { env, signal: controller.signal }).then(
        (result) => result,
        (e: unknown) => e,
      )) as BatchpipeError;
      const ms = Date.now() - stoppedAt;
      expect(stoppedAt).toBeGreaterThan(0);
      expect(ms).toBeLessThan(STOP_WITHIN_MS);
      expect([error.code, error.message.replace(/run \S+/, "run <id>")]).toEqual([
        "INTERRUPTED",
        "cancel interrupted: 0 of 1 open batches of run <id> cancelled; the run is flagged to cancel",
      ]);
    }, 60_000);

    it("the clean-up of a collected batch, retrying through a 503 outage: SIGTERM ends the run within ~2 s", async () => {
      // only the clean-up's deletes meet the outage
      const route = dialect === "openai" ? "DELETE /v1/files/:id" : "DELETE /v1/messages/batches/:id";
      emulator = await startEmulatorProcess({
        timeScale: 1,
        latencies: { validation: 0.05 },
        faults: [{ ...OUTAGE, route }],
      });
      const dir = tempDir();
      const file = spec(dir, dialect, { max_outage: "10m" });
      let stoppedAt = 0;
      const child = startBatchpipe(["run", file, "--json"], {
        cwd: dir,
        env,
        timeoutMs: 90_000,
        onEvent: (event, proc) => {
          if (event.type === "shard_collected") {
            setTimeout(() => {
              stoppedAt = Date.now();
              signalOnce(proc, "SIGTERM");
            }, 1500);
          }
        },
      });
      const run = await child.done;
      const ms = Date.now() - stoppedAt;
      expect(stoppedAt, run.stderr).toBeGreaterThan(0);
      expect(run.code, run.stderr).toBe(143);
      expect(run.events.at(-1)).toMatchObject({ type: "interrupted", signal: "SIGTERM" });
      expect(ms, run.stderr).toBeLessThan(STOP_WITHIN_MS);

      // the provider is back: the next start ends the run, and cleans up what the stop left
      await emulator.configure({ faults: [] });
      const again = await batchpipe(["run", file, "--json"], { cwd: dir, env, timeoutMs: 60_000 });
      expect(again.code, again.stderr).toBe(0);
      expect(again.events.find((e) => e.type === "cleaned_up")).toMatchObject({ shards: 1 });
    }, 60_000);
  },
);
