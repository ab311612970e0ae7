/**
 * What the committed parts of a shard's delivery routed, kept beside the shard: which requests each
 * part took and which of them went to the retry shard. A resumed delivery re-derives its committed
 * parts from the batch's results, in their order; when those results are gone (404/410: an output
 * file deleted or expired, the in-process emulator's batches after a crash) there is nothing to
 * re-derive from, and without this log the committed requests were sent and delivered again.
 * Each part's line is written (and synced) before the part is committed: a recorded part always
 * has its line, and a line past the recorded parts is ignored.
 */
import fs from "node:fs";

/** the log of a shard's request file (`<run>/<shard>.jsonl`), in the state folder */
export function partLogFile(shardFile: string): string {
  return `${shardFile}.parts`;
}

interface PartLine {
  /** requests routed when the part ended (the part's key: `<shard key>@<through>`) */
  through: number;
  /** the requests (indexes in the shard) the part routed */
  routed: number[];
  /** of those, sent to the retry shard; `unspent`: their attempt not spent (batch.deadline) */
  retry: number[];
  unspent: number[];
}

/** the requests the committed parts routed, and those of them to retry */
interface CommittedParts {
  routed: Set<number>;
  retry: Set<number>;
  unspent: Set<number>;
}

export class PartLog {
  private line: PartLine = { through: 0, routed: [], retry: [], unspent: [] };

  constructor(private readonly file: string) {}

  /** a request delivered or retried in the part under way */
  routed(index: number): void {
    this.line.routed.push(index);
  }

  retried(index: number, unspent: boolean): void {
    this.line.retry.push(index);
    if (unspent) this.line.unspent.push(index);
  }

  /** the part ends after `through` requests: its line, durable before the part is committed */
  end(through: number): void {
    const fd = fs.openSync(this.file, "a");
    try {
      fs.writeSync(fd, `${JSON.stringify({ ...this.line, through })}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.line = { through: 0, routed: [], retry: [], unspent: [] };
  }

  /**
   * Take the requests the parts committed through `routedDone` routed as routed: seen, and those
   * of them sent to the retry shard added to `retry` (and `unspent`); how many. None when the log
   * does not hold them all (a state written before it existed).
   */
  static takeCommitted(
    file: string,
    routedDone: number,
    metas: Iterable<[string, { index: number }]>,
    into: { seen: Set<string>; retry: Set<number>; unspent: Set<number> },
  ): number {
    const parts = PartLog.committed(file, routedDone);
    if (!parts) return 0;
    let taken = 0;
    for (const [id, { index }] of metas) {
      if (into.seen.has(id) || !parts.routed.has(index)) continue;
      into.seen.add(id);
      if (parts.retry.has(index)) into.retry.add(index);
      if (parts.unspent.has(index)) into.unspent.add(index);
      taken++;
    }
    return taken;
  }

  /** the parts committed through `routedDone` requests, or undefined when the log lacks some */
  private static committed(file: string, routedDone: number): CommittedParts | undefined {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
    const parts: CommittedParts = { routed: new Set(), retry: new Set(), unspent: new Set() };
    let through = 0;
    for (const raw of text.split("\n")) {
      let line: PartLine;
      try {
        line = JSON.parse(raw) as PartLine;
      } catch {
        continue; // the empty last line, or a line cut by a crash (its part was not recorded)
      }
      if (line.through > routedDone) continue;
      through = Math.max(through, line.through);
      for (const i of line.routed) parts.routed.add(i);
      for (const i of line.retry) parts.retry.add(i);
      for (const i of line.unspent) parts.unspent.add(i);
    }
    return through === routedDone && parts.routed.size === routedDone ? parts : undefined;
  }
}
