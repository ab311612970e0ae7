/**
 * Anthropic's custom_id must match ^[a-zA-Z0-9_-]{1,64}$ and a batch carries no metadata. Every
 * request of a submission is therefore sent as `<tag>-<line>`: the tag is derived from the
 * submission (pipeline, run, shard, submission number), the line is the request's 0-based line in
 * the shard file. Both are deterministic, so a resumed run maps results back identically, and the
 * results prove which submission a batch belongs to (README: exactly once).
 */
import { createHash } from "node:crypto";
import type { SubmissionTag } from "@batchpipe/core/plugin";

/** "bp" and 16 hex digits: the submission's tag in its requests' custom_ids */
export function submissionTagId(tag: SubmissionTag): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([tag.pipeline, tag.run, tag.shard, tag.submission]))
    .digest("hex");
  return `bp${digest.slice(0, 16)}`;
}

export function customId(tagId: string, line: number): string {
  return `${tagId}-${line}`;
}

/** the tag and line of a custom_id we sent, or null for anything else */
export function parseCustomId(id: string): { tagId: string; line: number } | null {
  const match = /^(bp[0-9a-f]{16})-(\d{1,6})$/.exec(id);
  return match ? { tagId: match[1]!, line: Number(match[2]) } : null;
}
