// Batch and file ids: the same for the same seed, and different from one start to the next without
// one, as a real provider's are. A run resumed in a new process against the in-process emulator
// used to find its old batch ids naming the new emulator's batches (batch_0af055… every time):
// "unexpected" and "missing" lines for results that were never its own.
import { afterEach, describe, expect, it } from "vitest";
import type { EmulatorOptions } from "../src/index.js";
import { chatLine, type Harness, startHarness, submit } from "./helpers.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function firstIds(options: EmulatorOptions): Promise<string[]> {
  h = await startHarness(options);
  const batch = await submit(h, [chatLine("r-1", "hello")]);
  const ids = [batch.id, batch.input_file_id];
  await h.close();
  h = undefined;
  return ids;
}

describe("ids", () => {
  it("differ between two starts without a seed, and repeat with one", async () => {
    const [a, b] = [await firstIds({}), await firstIds({})];
    expect(a[0]).toMatch(/^batch_[0-9a-f]{32}$/);
    expect(a[0]).not.toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
    expect(await firstIds({ seed: 5 })).toEqual(await firstIds({ seed: 5 }));
  });
});
