/**
 * Duplicate custom_ids. Every id taken is remembered (as a 64-bit hash: IdSet); the first duplicate
 * stops the read's output (nothing will be sent) and the read goes on only to count them. At the end
 * the source is read once more to tell where each of the first MAX_REPORTED ids first appeared, for
 * the DUPLICATE_ID error.
 */
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../../errors.js";
import {
  isInvalidRecord,
  type Logger,
  type RecordPosition,
  type RequestLine,
  type SourceRecord,
} from "../../plugin.js";
import type { EnginePipeline } from "../types.js";
import { IdSet } from "./id-index.js";

const MAX_REPORTED = 50;

interface Duplicate {
  id: string;
  at: RecordPosition;
  first?: RecordPosition;
}

export class DuplicateIds {
  private readonly ids = new IdSet();
  private readonly reported: Duplicate[] = [];
  /** duplicates found so far */
  count = 0;

  /** take the id of the record at `at`; false (and the duplicate counted) when it was taken before */
  take(id: string, at: RecordPosition): boolean {
    if (this.ids.add(id)) return true;
    this.count++;
    if (this.reported.length < MAX_REPORTED) this.reported.push({ id, at });
    return false;
  }

  /** an id taken before the checkpoint a read resumes from */
  restore(id: string): void {
    this.ids.add(id);
  }

  /** the DUPLICATE_ID error, once the source has been read again for the first positions */
  async error(o: {
    pipeline: EnginePipeline;
    transform: { toRequest(record: SourceRecord): RequestLine };
    signal: AbortSignal;
    logger: Logger;
  }): Promise<BatchpipeError> {
    await findFirstPositions({ ...o, duplicates: this.reported });
    return duplicateError(this.reported, this.count);
  }
}

async function findFirstPositions(o: {
  pipeline: EnginePipeline;
  transform: { toRequest(record: SourceRecord): RequestLine };
  duplicates: Duplicate[];
  signal: AbortSignal;
  logger: Logger;
}): Promise<void> {
  const { pipeline } = o;
  const wanted = new Map(o.duplicates.map((d) => [d.id, d]));
  const firsts = new Map<string, RecordPosition>();
  const records = pipeline.source.plugin.read({
    options: pipeline.source.options,
    resolvePath: (p: string) => path.resolve(pipeline.dir, p),
    logger: o.logger,
    signal: o.signal,
    checkpoint: undefined,
  });
  for await (const item of records) {
    if (isInvalidRecord(item)) continue;
    let id: string;
    try {
      id = o.transform.toRequest(item).custom_id;
    } catch {
      continue;
    }
    if (wanted.has(id) && !firsts.has(id)) firsts.set(id, item.position);
    if (firsts.size === wanted.size) break;
  }
  for (const d of o.duplicates) d.first = firsts.get(d.id);
}

function duplicateError(duplicates: Duplicate[], count: number): BatchpipeError {
  const where = (p: RecordPosition) => `${p.file}:${p.line}`;
  const firstAt = (d: Duplicate) => (d.first ? ` (first at ${where(d.first)})` : "");
  const lines = duplicates.slice(0, 10).map((d) => `  "${d.id}" at ${where(d.at)}${firstAt(d)}`);
  const more = count > lines.length ? `\n  … and ${count - lines.length} more` : "";
  const first = duplicates[0]!;
  return new BatchpipeError(
    ErrorCodes.DUPLICATE_ID,
    `${count} duplicate custom_id${count === 1 ? "" : "s"}; nothing was submitted:\n${lines.join("\n")}${more}`,
    {
      hint: "Make transform.id unique per record (e.g. include a key column), then run again.",
      loc: { file: first.at.file, line: first.at.line, column: 1 },
      recordId: first.id,
      details: duplicates.map(
        (d) =>
          new BatchpipeError(ErrorCodes.DUPLICATE_ID, `duplicate custom_id "${d.id}"${firstAt(d)}`, {
            loc: { file: d.at.file, line: d.at.line, column: 1 },
            recordId: d.id,
          }),
      ),
    },
  );
}
