/**
 * Batches run on the thread that answers the API, so a running batch gives the event loop a turn
 * at least every SLICE_MS: uploads, downloads and polls are then served while batches run, as
 * OpenAI's and Anthropic's APIs are (their batch workers are other machines).
 *
 * A turn every 500 lines held each upload chunk, download chunk and poll behind ~10 ms of lines
 * (more with several batches running): a 37 MB upload beside one running 50,000-line batch took
 * 2.4–3.6 s instead of 0.4–0.9 s, and a client that uploads while earlier batches run (batchpipe's
 * streaming submission) waited on it (bench/lib/analysis.md, "sixth pass").
 */
import { setImmediate as nextTurn } from "node:timers/promises";

const SLICE_MS = 1;

export class TimeSlices {
  private since = performance.now();

  /** the slice is used up: the caller should `await turn()` */
  due(): boolean {
    return performance.now() - this.since >= SLICE_MS;
  }

  /** let the event loop run what is waiting, then start a new slice */
  async turn(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}
