/**
 * Continuing an interrupted read from its last checkpoint: the shard files and the prep-failures
 * file are cut back to the recorded lengths, the tables of ids and requests are rebuilt from them
 * (and from the recorded fan-out ids), and the source is asked to read after the recorded cursor.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../../errors.js";
import { isInvalidRecord, type SourceItem } from "../../plugin.js";
import type { ShardRow } from "../../state/index.js";
import type { ReadCheckpoint } from "../codecs/read-checkpoint.js";
import { decodeShardMeta, type ShardMeta } from "../codecs/shard-meta.js";
import { DuplicateIds } from "./duplicates.js";
import { readLinesSync, SyncWriter } from "./files.js";
import { RequestIndex } from "./id-index.js";
import { prepFailuresFile, takenIds } from "./prep-failures.js";
import { fmt } from "./read-errors.js";
import { type ShardLimits, ShardWriter, shardFiles } from "./shard-writer.js";

export interface ReadResume {
  checkpoint: ReadCheckpoint;
  /** the shards the checkpoints recorded (all sealed) */
  sealed: ShardRow[];
  /** the record ids of the fan-out rows recorded */
  fanoutIds: Iterable<string>;
  /**
   * the source gives no cursor (or ignored it) and shards were already submitted: read it from the
   * start and skip the records the checkpoint covers
   */
  skip?: boolean;
}

/**
 * The read cannot continue from its checkpoint (the source yielded its first record again, or the
 * shard files do not match the state): the caller forgets the checkpoint and reads from the start.
 */
export class ReadStartsOver extends Error {
  constructor(
    message: string,
    readonly sourceIgnoredCursor: boolean,
  ) {
    super(message);
  }
}

/**
 * The id and request tables and the files of a read, opened afresh or continued from `resume`
 * (openReadFiles). Past their memory share the tables go to disk in the run's `read-tables`:
 * scratch, which `closeTables` removes (a resumed read rebuilds them from the meta files).
 */
export function openRead(o: {
  stateDir: string;
  /** the spec's folder (the failure rows' position ids are relative to it) */
  dir: string;
  runId: string;
  limits: ShardLimits;
  resume: ReadResume | undefined;
}) {
  const tables = { spillDir: path.join(o.stateDir, o.runId, "read-tables") };
  fs.rmSync(tables.spillDir, { recursive: true, force: true });
  const duplicates = new DuplicateIds(tables);
  const requests = new RequestIndex(tables);
  const closeTables = () => {
    duplicates.close();
    requests.close();
    fs.rmSync(tables.spillDir, { recursive: true, force: true });
  };
  try {
    const { writer, failures } = openReadFiles({ ...o, duplicates, requests });
    return { writer, failures, duplicates, requests, closeTables };
  } catch (error) {
    closeTables();
    throw error;
  }
}

/** The files a read writes, opened afresh or continued from `resume` with the tables rebuilt. */
function openReadFiles(o: {
  stateDir: string;
  dir: string;
  runId: string;
  limits: ShardLimits;
  resume: ReadResume | undefined;
  duplicates: DuplicateIds;
  requests: RequestIndex;
}): { writer: ShardWriter; failures: SyncWriter } {
  const { stateDir, runId, resume } = o;
  let writer: ShardWriter | undefined;
  try {
    writer = new ShardWriter({
      stateDir,
      runId,
      limits: o.limits,
      resume: resume && { state: resume.checkpoint.writer, sealed: resume.sealed },
    });
    if (resume) restoreTables({ ...o, resume });
    const failures = new SyncWriter(
      path.join(stateDir, prepFailuresFile(runId)),
      resume ? { truncateTo: resume.checkpoint.failuresBytes } : {},
    );
    return { writer, failures };
  } catch (error) {
    writer?.abort();
    if (!resume || isBatchpipeError(error)) throw error;
    throw new ReadStartsOver(
      `the files of the interrupted read do not match its checkpoint (${(error as Error).message})`,
      false,
    );
  }
}

/**
 * The id and request tables as they were at the checkpoint, from the shards' meta files (cut at
 * their recorded lengths), the ids the read's failures took (tookId) and the recorded fan-out ids.
 */
function restoreTables(o: {
  stateDir: string;
  dir: string;
  runId: string;
  resume: ReadResume;
  duplicates: DuplicateIds;
  requests: RequestIndex;
}): void {
  const { stateDir, runId, resume, duplicates, requests } = o;
  const files = [
    ...resume.sealed.map((s) => ({ seq: s.seq, file: s.metaFile, bytes: undefined as number | undefined })),
    ...resume.checkpoint.writer.open.map((s) => ({
      seq: s.seq,
      file: shardFiles(runId, s.seq).metaFile,
      bytes: s.metaBytes as number | undefined,
    })),
  ];
  for (const { seq, file, bytes } of files) {
    let index = 0;
    for (const line of readLinesSync(path.join(stateDir, file), bytes)) {
      let meta: ShardMeta;
      try {
        meta = decodeShardMeta(line);
      } catch (error) {
        throw new Error(`line ${index + 1} of ${file}: ${(error as Error).message}`);
      }
      duplicates.restore(meta.id);
      requests.set(meta.requestDigest, seq, index);
      index++;
    }
  }
  const failures = path.join(stateDir, prepFailuresFile(runId));
  for (const id of takenIds(failures, resume.checkpoint.failuresBytes, o.dir)) duplicates.restore(id);
  for (const id of resume.fanoutIds) duplicates.restore(id);
}

/**
 * A source without a cursor, restarted after shards were submitted: the records its checkpoint
 * covers are read again and skipped (the same source yields the same records, so the same
 * shards). They must be the records read then: fed in another order (an export without ORDER BY),
 * the skip would pass over records never read and deliver others twice (as duplicate_id). So a
 * checkpoint of such a source keeps a hash of the records read (`records`), checked here.
 */
export class CoveredRecords {
  private left: number;
  private readonly expected: number | undefined;
  /** the hash of the records read so far (sources without a cursor), for the next checkpoint */
  hash: number;

  constructor(
    private readonly source: string,
    private readonly saved: ReadCheckpoint | undefined,
    skip: boolean,
  ) {
    this.left = skip ? (saved?.read ?? 0) : 0;
    this.expected = this.left > 0 ? saved?.records : undefined;
    this.hash = this.left > 0 ? HASH_SEED : (saved?.records ?? HASH_SEED);
  }

  /** true when `item` is one of the covered records (skipped); throws at their end if they differ */
  skips(item: SourceItem): boolean {
    if (this.left === 0) {
      if (item.cursor === undefined) this.hash = recordsHash(this.hash, item);
      return false;
    }
    this.left--;
    // hashed even when the checkpoint has no hash to compare (an earlier build's): the next one has
    this.hash = recordsHash(this.hash, item);
    if (this.left === 0 && this.expected !== undefined && this.hash !== this.expected)
      throw refedOtherRecords(this.source, this.saved!.read);
    return true;
  }

  /** the source ended: it must have yielded every covered record again */
  ended(): void {
    if (this.left === 0) return;
    const read = this.saved!.read;
    throw new ReadStartsOver(
      `${this.source} yielded ${fmt(read - this.left)} records, fewer than the ${fmt(read)} its last read checkpoint covers`,
      false,
    );
  }
}

const HASH_SEED = 0x811c9dc5;

/**
 * FNV-1a over the record's JSON, for sources without a cursor only (~1 µs a record): a number
 * that a checkpoint can keep, where a crypto hash's state cannot be saved
 */
function recordsHash(hash: number, item: SourceItem): number {
  const text = `${JSON.stringify(isInvalidRecord(item) ? item.invalid : item.data)}\n`;
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function refedOtherRecords(source: string, read: number): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.SOURCE_FAILED,
    `${source} was fed other records than before the interruption: its first ${fmt(read)} records, which the resumed read skips (they were read, and shards of them sent), are not the ones read then`,
    {
      hint: "Feed the same records in the same order (e.g. sort the export), then run again; or `batchpipe cancel` (from code: cancelRun) this run and run again: what succeeded is answered from the result cache.",
    },
  );
}
