// A runner has no spec, so its workConfig must take what a spec says about models batchpipe does not
// know. workConfig refused `pricing` and `model_limits` (unknown key), while batch.max_cost refused a
// fine-tuned model "unknown price" and told to add pricing "to the spec": max_cost could not be used
// with a fine-tune at all, nor an output limit given for a model outside batchpipe's table.
import { describe, expect, it } from "vitest";
import { officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchOutputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

const FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme::abc123";
// the emulator knows no fine-tune by default
const EMULATOR = { use: "emulator", emulator: { timeScale: 3600, models: ["ft:*"] } };

function runner(name: string, extra: Record<string, unknown>, outputs: BatchOutputItem[] = []) {
  return class Reviews extends BatchRunner {
    static override workConfig = {
      name,
      model: FINE_TUNE,
      provider: EMULATOR,
      batch: { poll_interval: "50ms", max_cost: 1 },
      ...extra,
    };
    static override builtins = officialPlugins;
    static override upload() {
      return [
        { id: "a", messages: [{ role: "user", content: "great" }] },
        {
          id: "b",
          body: { model: FINE_TUNE, max_tokens: 500, messages: [{ role: "user", content: "bad" }] },
        },
      ];
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const item of items) outputs.push(item);
    }
  };
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: BatchpipeError) => ({ code: error.code, message: error.message, hint: error.hint }),
  );

describe("workConfig.pricing and workConfig.model_limits", () => {
  it("a fine-tune priced in workConfig.pricing runs under batch.max_cost; model_limits fails a request over its output limit", async () => {
    const outputs: BatchOutputItem[] = [];
    const Runner = runner(
      "fine-tune-priced",
      {
        pricing: { [FINE_TUNE]: { input: 0.3, output: 1.2 } },
        model_limits: { [FINE_TUNE]: { context_window: 128_000, max_output_tokens: 100 } },
      },
      outputs,
    );
    const result = await Runner.run({ dir: tempDir() });
    expect(result.report.estimatedCost).toBeGreaterThan(0);
    expect(result.report.unpriced).toBe(0);
    const byId = Object.fromEntries(outputs.map((o) => [o.id, o.error?.code ?? o.status]));
    expect(byId).toEqual({ a: "success", b: "max_tokens_too_large" });
  }, 60_000);

  it("without a price, max_cost's refusal says to add it to the runner's workConfig, not to a spec", async () => {
    const error = await rejection(runner("fine-tune-unpriced", {}).run({ dir: tempDir() }));
    expect(error?.code).toBe("BUDGET_EXCEEDED");
    expect(error?.hint).toBe(
      `Add its list prices (USD per 1M tokens) to Reviews.workConfig: pricing: { "${FINE_TUNE}": { input: 0.5, output: 1.5 } }, or remove batch.max_cost.`,
    );
  }, 60_000);

  it("a misspelt key inside pricing is named with the keys a price takes", async () => {
    const error = await rejection(
      runner("fine-tune-typo", { pricing: { [FINE_TUNE]: { input: 0.3, outptu: 1.2 } } }).run({
        dir: tempDir(),
      }),
    );
    expect(error).toEqual({
      code: "SPEC_INVALID",
      message: `Reviews.workConfig.pricing.${FINE_TUNE}: unknown key(s) outptu`,
      hint: `did you mean "output" for "outptu"? The keys of pricing.${FINE_TUNE} are input, output, cached_input, batch_discount.`,
    });
  });
});
