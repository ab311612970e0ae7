// A BatchRunner's run cancelled from code: `cancelRun` needs an EnginePipeline the runner class never
// exposes, so a program could not cancel its runner's run (nor read its status) without rewriting
// the runner as a spec. Runner.cancel() and Runner.status() take run()'s options and do what
// `batchpipe cancel` and `batchpipe status` do: an in-flight run's open batches are cancelled at
// the emulator (its own process, over HTTP), the run delivers what finished and resolves
// `cancelled`, the rest failed as batch_cancelled; a later run() sends those again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkExactlyOnce,
  type EmulatorProcess,
  officialPlugins,
  startEmulatorProcess,
  tempDir,
} from "../../batchpipe/test/support/harness.js";
import {
  type BatchErrorItem,
  type BatchInputItem,
  type BatchOutputItem,
  BatchRunner,
  type CancelResult,
  type EngineEvent,
  isBatchpipeError,
  type StatusResult,
} from "../src/index.js";

const N = 30;
const expected = Array.from({ length: N }, (_, i) => `c${i + 1}`);
const env = { OPENAI_API_KEY: "sk-test" };

let emulator: EmulatorProcess;
beforeAll(async () => {
  // 3 lines a second: a batch of 10 takes ~3 s, time enough to cancel it part-way
  emulator = await startEmulatorProcess({ timeScale: 1, latencies: { validation: 0.5, linesPerSecond: 3 } });
});
afterAll(async () => {
  await emulator?.close();
});

function runnerClass(outputs: BatchOutputItem[], errors: BatchErrorItem[]) {
  return class Runner extends BatchRunner {
    static override workConfig = {
      name: "cancel-from-code",
      model: "gpt-4o-mini",
      provider: { use: "openai", base_url: emulator.url },
      batch: { poll_interval: "100ms", max_requests: 10 },
    };
    static override async *upload(): AsyncIterable<BatchInputItem> {
      for (const id of expected) yield { id, messages: [{ role: "user", content: `say ${id}` }] };
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const item of items) outputs.push(item);
    }
    static async downloadError(items: AsyncIterable<BatchErrorItem>) {
      for await (const item of items) errors.push(item);
    }
  };
}

describe("Runner.cancel() and Runner.status()", () => {
  it("cancel an in-flight run's open batches; the run ends cancelled; a later run() sends the rest", async () => {
    const dir = tempDir("bp-runner-cancel-");
    const outputs: BatchOutputItem[] = [];
    const errors: BatchErrorItem[] = [];
    const Runner = runnerClass(outputs, errors);
    const options = { dir, env, builtins: officialPlugins };

    expect((await Runner.status(options)).run).toBeNull();
    const none = await Runner.cancel(options).catch((error: unknown) => error);
    expect(isBatchpipeError(none) && [none.code, none.message]).toEqual([
      "USAGE",
      'pipeline "cancel-from-code" has no unfinished run',
    ]);

    let cancelling: Promise<{ during: StatusResult; cancelled: CancelResult }> | undefined;
    const cancelFromCode = async () => ({
      during: await Runner.status(options),
      cancelled: await Runner.cancel(options),
    });
    const onEvent = (event: EngineEvent) => {
      // once a batch has done some of its lines: what finished is delivered, the rest cancelled
      if (event.type === "batch_status" && event.counts && event.counts.completed > 0)
        cancelling ??= cancelFromCode();
    };
    const result = await Runner.run({ ...options, onEvent });
    expect(cancelling, "a batch did some lines").toBeDefined();
    const { during, cancelled } = await cancelling!;

    // status() saw the run in flight, in this process
    expect(during.run).toMatchObject({ id: result.run, status: "running", cancelRequested: false });
    expect(during.runningPid).toBe(process.pid);
    // cancel() cancelled the run's open batches at the provider
    expect(cancelled.run).toBe(result.run);
    expect(cancelled.failed).toEqual([]);
    expect(cancelled.cancelled.length).toBeGreaterThan(0);
    const batches = (await emulator.state()).batches;
    for (const id of cancelled.cancelled)
      expect(["cancelling", "cancelled"]).toContain(batches.find((b) => b.id === id)?.status);

    expect(result.status).toBe("cancelled");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.error.code === "batch_cancelled")).toBe(true);
    expect(
      checkExactlyOnce(
        [...outputs, ...errors].map((item) => item.id),
        expected,
      ),
    ).toEqual({
      missing: [],
      duplicated: [],
      extra: [],
    });
    const after = await Runner.status(options);
    expect(after.run).toMatchObject({ id: result.run, status: "cancelled", cancelRequested: true });
    expect(after.runningPid).toBeNull();

    // a later run() is a new run: what was cancelled is sent again, what succeeded comes from the cache
    const sentAgain = errors.map((e) => e.id).sort();
    outputs.length = 0;
    errors.length = 0;
    const again = await Runner.run(options);
    expect(again.run).not.toBe(result.run);
    expect(again.status).toBe("completed");
    expect(errors).toEqual([]);
    expect(outputs.map((o) => o.id).sort()).toEqual(expect.arrayContaining(sentAgain));
  }, 120_000);
});
