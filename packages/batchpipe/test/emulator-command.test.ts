import { describe, expect, it } from "vitest";
import { startBatchpipe, waitFor } from "./support/harness.js";

describe("batchpipe emulator", () => {
  it("starts the emulator on a port and stops on SIGTERM", async () => {
    const emulator = startBatchpipe(["emulator", "--port", "0", "--time-scale", "100"]);
    const listening = () => /listening on (\S+)/.exec(emulator.stdout())?.[1];
    await waitFor(() => listening() !== undefined, 20_000, "the emulator to listen");
    const res = await fetch(`${listening()}/batches`, { headers: { authorization: "Bearer x" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toEqual([]);
    emulator.child.kill("SIGTERM");
    expect((await emulator.done).code).toBe(0);
  });
});
