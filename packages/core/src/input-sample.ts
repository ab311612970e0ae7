/**
 * What a file source's cursor records of the bytes it has read, so that a resume can tell a file
 * that was appended to (fine: the bytes before the cursor are the same) from one that was
 * overwritten or edited (resuming at the old byte offset would mix old and new records). Taken once
 * per read checkpoint (SourcePlugin.stampCursor), never per record: the file's first 64 KiB and the
 * 64 KiB before the cursor's offset, hashed. A gzipped file's offset counts decompressed bytes, so
 * its sample is its first 64 KiB as stored.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { BatchpipeError } from "./errors.js";
import { isGzipFile } from "./input-files.js";
import type { Checkpoint } from "./plugin.js";

/**
 * `cursor` (a `{ file, offset }` cursor) with `sample`: `"<end>:<hash>"`, the hash of `file`'s
 * sampled bytes before byte `end`. A file that cannot be read now is left without (not checked).
 */
export async function stampFileCursor(cursor: Checkpoint): Promise<Checkpoint> {
  const { file, offset } = cursor as { file?: unknown; offset?: unknown };
  if (typeof file !== "string" || typeof offset !== "number") return cursor;
  try {
    const end = isGzipFile(file) ? undefined : offset;
    return { ...(cursor as Record<string, Checkpoint>), sample: await sample(file, end) };
  } catch {
    return cursor;
  }
}

/**
 * Refuses (SOURCE_FAILED) to resume from `cursor` in `file` when the file is shorter than its
 * sample, or its sampled bytes are not those read. A cursor without `sample` (written by an
 * earlier build) is not checked.
 */
export async function checkFileCursor(
  file: string,
  cursor: { sample?: unknown; offset?: unknown },
  plugin: string,
): Promise<void> {
  if (typeof cursor.sample !== "string") return;
  const end = Number(cursor.sample.slice(0, cursor.sample.indexOf(":")));
  const now = await sample(file, end).catch(() => undefined);
  if (now === cursor.sample) return;
  const gzip = isGzipFile(file);
  const what =
    now === undefined
      ? `it is shorter than when it was read (${end} bytes)`
      : gzip
        ? "its first 64 KiB are not those read"
        : `its bytes before byte ${end}, where reading stopped, are not those read`;
  throw new BatchpipeError("SOURCE_FAILED", `cannot resume: ${file} changed since it was read: ${what}`, {
    plugin,
    hint: `Resuming at the old position would mix old and new records. Restore the file as it was (adding to its end is fine) and run again; or \`batchpipe cancel\` (from code: cancelRun) the run and run again: the result cache answers the requests that already succeeded.`,
  });
}

// --- internal ---

const SAMPLE_BYTES = 64 * 1024;

/** `"<end>:<hash>"` of the first 64 KiB and the 64 KiB before `end` (default: the first 64 KiB of the file) */
async function sample(file: string, end: number | undefined): Promise<string> {
  const handle = await open(file, "r");
  try {
    const to = end ?? Math.min(SAMPLE_BYTES, (await handle.stat()).size);
    const head = Math.min(SAMPLE_BYTES, to);
    const tail = Math.max(head, to - SAMPLE_BYTES);
    const hash = createHash("sha256");
    for (const [from, until] of [
      [0, head],
      [tail, to],
    ] as const) {
      const bytes = Buffer.alloc(until - from);
      for (let at = 0; at < bytes.length; ) {
        const { bytesRead } = await handle.read(bytes, at, bytes.length - at, from + at);
        if (bytesRead === 0) throw new Error(`${file} ends before byte ${until}`);
        at += bytesRead;
      }
      hash.update(bytes);
    }
    return `${to}:${hash.digest("hex").slice(0, 32)}`;
  } finally {
    await handle.close();
  }
}
