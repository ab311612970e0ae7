/**
 * The dataset fingerprint, recorded with each run. It hashes what the read phase made of each
 * record: the request line written, an identical request's pointer to the first copy, or a
 * failure's code and position. Nothing compares it any more: the result cache replaced the skip of
 * an unchanged dataset (issue 17), and with streaming submission a segment also ends at each early
 * checkpoint (a shard sealed), so the value depends on when those fell. Removing it is a follow-up.
 *
 * A hash chain over segments, fp_k = sha256(fp_{k-1} || sha256(segment k)): a chain value is a
 * string, so a resumed read continues it from a checkpoint (checkpoints fall on segment ends).
 */
import { createHash } from "node:crypto";
import type { RecordPosition } from "../../plugin.js";

/** records per fingerprint segment (a checkpoint also ends one) */
export const FINGERPRINT_SEGMENT = 1000;

export class FingerprintChain {
  private chain: Buffer;
  private segment = createHash("sha256");

  /** `from`: the value of a chain to continue */
  constructor(from?: string) {
    this.chain = from
      ? Buffer.from(from, "hex")
      : createHash("sha256").update("batchpipe dataset 2").digest();
  }

  /** a request written to a shard: its request line */
  request(line: string): void {
    this.segment.update(line);
    this.segment.update("\n");
  }

  /** a request identical to the one at `index` of shard `root` (sent once) */
  identical(id: string, root: string, index: number): void {
    this.segment.update(`=${id} ${root}:${index}\n`);
  }

  /** a record that never became a request */
  failure(code: string, source: RecordPosition): void {
    this.segment.update(`!${code} ${source.file}:${source.line}\n`);
  }

  /** end the current segment */
  cut(): void {
    this.chain = createHash("sha256").update(this.chain).update(this.segment.digest()).digest();
    this.segment = createHash("sha256");
  }

  get value(): string {
    return this.chain.toString("hex");
  }
}
