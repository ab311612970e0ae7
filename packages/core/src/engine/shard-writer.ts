/**
 * Shard files: request lines go to `<run>/shards/NNNNN.jsonl` (the batch input file, uploaded as is)
 * and, line for line, to `NNNNN.meta.jsonl` (the record id, its input and position, its token
 * estimates), which the collector joins results against. A shard is sealed before it would pass
 * max_requests, max_bytes or the token budget; one shard is open per model + endpoint.
 */
import fs from "node:fs";
import path from "node:path";
import type { ShardRow } from "../state/index.js";

export interface ShardLimits {
  maxRequests: number;
  maxBytes: number;
  /** per-shard estimated input tokens; null = no limit */
  maxTokens: number | null;
}

export interface ShardLine {
  model: string;
  endpoint: string;
  /** the request line, without its newline */
  line: string;
  bytes: number;
  tokens: number;
  outputTokens: number;
}

export const shardName = (seq: number) => String(seq).padStart(5, "0");
export const retryShardName = (root: string, attempt: number) => `${root}-a${attempt}`;

/** An open shard at a read checkpoint: its counts and how long its two files were. */
export interface OpenShardState {
  seq: number;
  model: string;
  endpoint: string;
  requests: number;
  bytes: number;
  tokens: number;
  outputTokens: number;
  /** bytes of the request file and of the meta file */
  fileBytes: number;
  metaBytes: number;
}

/** What a read checkpoint records of the writer (sealed shards are rows of the state). */
export interface ShardWriterState {
  /** the last shard number handed out */
  seq: number;
  open: OpenShardState[];
}

/** Writes shard files and hands back the sealed shards' rows. */
export class ShardWriter {
  private readonly open = new Map<string, OpenShard>();
  readonly sealed: ShardRow[] = [];
  private seq = 0;

  constructor(
    private readonly options: {
      stateDir: string;
      runId: string;
      limits: ShardLimits;
      /** continue from a read checkpoint: its sealed shards and the state of its open ones */
      resume?: { state: ShardWriterState; sealed: ShardRow[] };
    },
  ) {
    const dir = path.join(options.stateDir, options.runId, "shards");
    fs.mkdirSync(dir, { recursive: true });
    const resume = options.resume;
    if (!resume) return;
    this.seq = resume.state.seq;
    this.sealed.push(...resume.sealed);
    // files of shards started after the checkpoint are written again from the records read again
    for (const name of fs.readdirSync(dir)) {
      const seq = Number.parseInt(name, 10);
      if (!(seq <= this.seq)) fs.rmSync(path.join(dir, name), { force: true });
    }
    for (const s of resume.state.open) {
      const name = shardName(s.seq);
      const rel = path.join(options.runId, "shards", name);
      this.open.set(`${s.model}\n${s.endpoint}`, {
        seq: s.seq,
        name,
        model: s.model,
        endpoint: s.endpoint,
        file: `${rel}.jsonl`,
        metaFile: `${rel}.meta.jsonl`,
        requests: s.requests,
        bytes: s.bytes,
        tokens: s.tokens,
        outputTokens: s.outputTokens,
        lines: new SyncWriter(path.join(options.stateDir, `${rel}.jsonl`), { truncateTo: s.fileBytes }),
        metas: new SyncWriter(path.join(options.stateDir, `${rel}.meta.jsonl`), { truncateTo: s.metaBytes }),
      });
    }
  }

  /**
   * Open shards, flushed and described (for a read checkpoint), with their files: the caller syncs
   * them before it records the checkpoint.
   */
  checkpoint(): { state: ShardWriterState; files: string[] } {
    const open: OpenShardState[] = [];
    const files: string[] = [];
    for (const shard of this.open.values()) {
      open.push({
        seq: shard.seq,
        model: shard.model,
        endpoint: shard.endpoint,
        requests: shard.requests,
        bytes: shard.bytes,
        tokens: shard.tokens,
        outputTokens: shard.outputTokens,
        fileBytes: shard.lines.flushed(),
        metaBytes: shard.metas.flushed(),
      });
      files.push(
        path.join(this.options.stateDir, shard.file),
        path.join(this.options.stateDir, shard.metaFile),
      );
    }
    return { state: { seq: this.seq, open }, files };
  }

  /** whether a single line can ever fit a shard */
  fits(line: ShardLine): string | undefined {
    const { maxBytes, maxTokens } = this.options.limits;
    if (line.bytes > maxBytes)
      return `the request is ${line.bytes} bytes, over batch.max_bytes (${maxBytes})`;
    if (maxTokens !== null && line.tokens > maxTokens)
      return `the request has ~${line.tokens} input tokens, over batch.max_enqueued_tokens (${maxTokens})`;
    return undefined;
  }

  /** add a line with its meta line (built from its index in the shard); returns where it went */
  add(line: ShardLine, meta: (index: number) => string): { name: string; seq: number; index: number } {
    const key = `${line.model}\n${line.endpoint}`;
    let shard = this.open.get(key);
    const { maxRequests, maxBytes, maxTokens } = this.options.limits;
    if (
      shard &&
      (shard.requests + 1 > maxRequests ||
        shard.bytes + line.bytes > maxBytes ||
        (maxTokens !== null && shard.tokens + line.tokens > maxTokens))
    ) {
      this.seal(shard);
      this.open.delete(key);
      shard = undefined;
    }
    if (!shard) {
      shard = this.create(line.model, line.endpoint);
      this.open.set(key, shard);
    }
    const index = shard.requests++;
    shard.bytes += line.bytes;
    shard.tokens += line.tokens;
    shard.outputTokens += line.outputTokens;
    shard.lines.write(`${line.line}\n`);
    shard.metas.write(`${meta(index)}\n`);
    return { name: shard.name, seq: shard.seq, index };
  }

  /** seal every open shard; returns all sealed shards in order */
  finish(): ShardRow[] {
    for (const shard of this.open.values()) this.seal(shard);
    this.open.clear();
    this.sealed.sort((a, b) => a.seq - b.seq);
    return this.sealed;
  }

  /** close files without sealing (on abort) */
  abort(): void {
    for (const shard of this.open.values()) {
      shard.lines.close();
      shard.metas.close();
    }
    this.open.clear();
  }

  private create(model: string, endpoint: string): OpenShard {
    const seq = ++this.seq;
    const name = shardName(seq);
    const rel = path.join(this.options.runId, "shards", name);
    return {
      seq,
      name,
      model,
      endpoint,
      file: `${rel}.jsonl`,
      metaFile: `${rel}.meta.jsonl`,
      requests: 0,
      bytes: 0,
      tokens: 0,
      outputTokens: 0,
      lines: new SyncWriter(path.join(this.options.stateDir, `${rel}.jsonl`)),
      metas: new SyncWriter(path.join(this.options.stateDir, `${rel}.meta.jsonl`)),
    };
  }

  private seal(shard: OpenShard): void {
    shard.lines.close();
    shard.metas.close();
    this.sealed.push({
      runId: this.options.runId,
      name: shard.name,
      seq: shard.seq,
      root: shard.name,
      attempt: 1,
      model: shard.model,
      endpoint: shard.endpoint,
      file: shard.file,
      metaFile: shard.metaFile,
      requests: shard.requests,
      bytes: shard.bytes,
      tokens: shard.tokens,
      outputTokens: shard.outputTokens,
      status: "pending",
      submission: 0,
      staged: null,
      batchId: null,
      batchStatus: null,
      createdAt: null,
      batch: null,
    });
  }
}

interface OpenShard {
  seq: number;
  name: string;
  model: string;
  endpoint: string;
  file: string;
  metaFile: string;
  requests: number;
  bytes: number;
  tokens: number;
  outputTokens: number;
  lines: SyncWriter;
  metas: SyncWriter;
}

/**
 * A buffered synchronous file writer: constant memory, no stream back-pressure to juggle.
 * `truncateTo`: continue a file written before, cut back to that many bytes (a read checkpoint).
 */
export class SyncWriter {
  private readonly fd: number;
  private chunks: string[] = [];
  private size = 0;
  private written = 0;

  constructor(file: string, options: { truncateTo?: number } = {}) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (options.truncateTo === undefined) {
      this.fd = fs.openSync(file, "w");
      return;
    }
    this.fd = fs.openSync(file, "r+");
    const size = fs.fstatSync(this.fd).size;
    if (size < options.truncateTo) {
      fs.closeSync(this.fd);
      throw new Error(`${file} is ${size} bytes, shorter than the ${options.truncateTo} recorded`);
    }
    fs.ftruncateSync(this.fd, options.truncateTo);
    this.written = options.truncateTo;
  }

  write(text: string): void {
    this.chunks.push(text);
    this.size += text.length;
    if (this.size >= 1 << 18) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const buffer = Buffer.from(this.chunks.join(""));
    let done = 0;
    while (done < buffer.length)
      done += fs.writeSync(this.fd, buffer, done, buffer.length - done, this.written + done);
    this.written += buffer.length;
    this.chunks = [];
    this.size = 0;
  }

  /** write the buffer out (not synced); returns the file's length */
  flushed(): number {
    this.flush();
    return this.written;
  }

  close(): void {
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}
