/**
 * Duplicate custom_ids. Every id taken is remembered (as a 64-bit hash: IdSet). A record whose id
 * was taken before fails as `duplicate_id` (DESIGN §3: the first occurrence wins) and the run goes
 * on: with streaming submission the first occurrence may already be at the provider, so a
 * duplicate can no longer refuse the run before any spend.
 */
import path from "node:path";
import type { RecordPosition } from "../../plugin.js";
import { IdSet, type TableOptions } from "./id-index.js";

export class DuplicateIds {
  private readonly ids: IdSet;

  constructor(options: TableOptions = {}) {
    this.ids = new IdSet(options);
  }

  /** give back the files of the ids that went to disk */
  close(): void {
    this.ids.close();
  }

  /**
   * take a record's id; the duplicate_id message when an earlier record has it: of this run, or of
   * an earlier one (`deliveredBefore`, watch), which this run does not take. The first occurrence wins.
   */
  claim(
    id: string,
    at: RecordPosition,
    deliveredBefore?: (id: string) => string | undefined,
  ): string | undefined {
    const earlier = deliveredBefore?.(id);
    if (earlier !== undefined)
      return `"${id}" was already delivered for this pipeline (from ${earlier}); the first occurrence wins`;
    return this.ids.add(id) ? undefined : duplicateMessage(id, at);
  }

  /** an id taken before the checkpoint a read resumes from */
  restore(id: string): void {
    this.ids.add(id);
  }
}

/** the failure message of a record whose id an earlier record took */
export function duplicateMessage(id: string, at: RecordPosition): string {
  return `custom_id "${id}" (${path.basename(at.file)}:${at.line}) was taken by an earlier record; the first occurrence wins`;
}
