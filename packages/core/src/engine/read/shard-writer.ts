/**
 * Shard files: request lines go to `<run>/shards/NNNNN.jsonl` (the batch input file, uploaded as is)
 * and, line for line, meta lines to `NNNNN.meta.jsonl` (codecs/shard-meta.ts), which the collector
 * joins results against. A shard is sealed before it would pass max_requests, max_bytes or the token
 * budget; one shard is open per model + endpoint.
 */
import fs from "node:fs";
import path from "node:path";
import { ANSWERED_FROM_CACHE, cachedBatch } from "../../cache/cached-shard.js";
import type { RecordPosition } from "../../plugin.js";
import type { ProviderLimits } from "../../provider/contract.js";
import type { ShardRow } from "../../state/index.js";
import { encodeShardMeta } from "../codecs/shard-meta.js";
import { SyncWriter } from "./files.js";
import { fmt } from "./read-errors.js";

export interface ShardLimits {
  maxRequests: number;
  /**
   * The request caps of shards sent while the spec leaves max_requests unset: the first shard's,
   * doubled shard by shard up to `steady` (never past maxRequests). null: every shard up to
   * maxRequests (the spec sets max_requests). See shardLimits.
   */
  ramp: { first: number; steady: number } | null;
  maxBytes: number;
  /** per-shard estimated input tokens; null = no limit */
  maxTokens: number | null;
  /** per-shard inputs (ProviderLimits.maxInputs, e.g. OpenAI's embedding inputs); null = no limit */
  maxInputs: number | null;
}

/** A request to place: its line and what its meta line holds. */
export interface ShardEntry {
  model: string;
  endpoint: string;
  /** the request line, without its newline */
  line: string;
  /** bytes of the line with its newline */
  bytes: number;
  inputTokens: number;
  outputTokens: number;
  /** what it counts toward ShardLimits.maxInputs (EncodedRequest.inputs) */
  inputs: number;
  id: string;
  requestDigest: [number, number, number];
  jsonOutput: boolean;
  /** the record's data as JSON text */
  input: string;
  source: RecordPosition;
  /** answered from the result cache: `line` is its cached result, in a shard of its own (cache/cached-shard.ts) */
  cached?: boolean;
}

export const shardName = (seq: number) => String(seq).padStart(5, "0");
export const retryShardName = (root: string, attempt: number) => `${root}-a${attempt}`;

/** a first-attempt shard's two files, relative to the state dir */
export function shardFiles(runId: string, seq: number): { file: string; metaFile: string } {
  const base = path.join(runId, "shards", shardName(seq));
  return { file: `${base}.jsonl`, metaFile: `${base}.meta.jsonl` };
}

/** why a request fits no shard at all, or undefined when it fits an empty one */
export function requestTooLarge(
  limits: ShardLimits,
  request: { bytes: number; inputTokens: number; inputs: number },
): string | undefined {
  const { maxBytes, maxTokens, maxInputs } = limits;
  if (request.bytes > maxBytes)
    return `the request is ${fmt(request.bytes)} bytes, over batch.max_bytes (${fmt(maxBytes)})`;
  if (maxTokens !== null && request.inputTokens > maxTokens)
    return `the request has ~${fmt(request.inputTokens)} input tokens, over batch.max_enqueued_tokens (${fmt(maxTokens)})`;
  if (maxInputs !== null && request.inputs > maxInputs)
    return `the request has ${fmt(request.inputs)} inputs, over the provider's ${fmt(maxInputs)} inputs per batch`;
  return undefined;
}

/** An open shard at a read checkpoint: its counts and how long its two files were. */
export interface OpenShardState {
  seq: number;
  model: string;
  endpoint: string;
  requests: number;
  bytes: number;
  tokens: number;
  outputTokens: number;
  /** ShardEntry.inputs summed (absent in checkpoints of earlier builds: 0) */
  inputs?: number;
  /** a shard of results from the cache (cache/cached-shard.ts) */
  cached?: boolean;
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
  /** files of shards sealed since the last checkpoint: closed, synced by the caller before it records them */
  private unsynced: string[] = [];
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
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
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
      this.open.set(openKey(s), this.openShard(s, { lines: s.fileBytes, metas: s.metaBytes }));
    }
  }

  /** write a request line and its meta line to the open shard of its model and endpoint ("" when the provider's batches mix them) */
  add(entry: ShardEntry): { seq: number; index: number } {
    const key = openKey(entry);
    let shard = this.open.get(key);
    const { maxBytes, maxTokens, maxInputs } = this.options.limits;
    if (
      shard &&
      (shard.requests + 1 > shard.maxRequests ||
        shard.bytes + entry.bytes > maxBytes ||
        (maxTokens !== null && shard.tokens + entry.inputTokens > maxTokens) ||
        (maxInputs !== null && shard.inputs + entry.inputs > maxInputs))
    ) {
      this.seal(shard);
      this.open.delete(key);
      shard = undefined;
    }
    if (!shard) {
      shard = this.openShard({
        seq: ++this.seq,
        model: entry.model,
        endpoint: entry.endpoint,
        requests: 0,
        bytes: 0,
        tokens: 0,
        outputTokens: 0,
        inputs: 0,
        ...(entry.cached ? { cached: true } : {}),
      });
      this.open.set(key, shard);
    }
    const index = shard.requests++;
    shard.bytes += entry.bytes;
    shard.tokens += entry.inputTokens;
    shard.outputTokens += entry.outputTokens;
    shard.inputs += entry.inputs;
    shard.lines.write(`${entry.line}\n`);
    const meta = encodeShardMeta({
      id: entry.id,
      inputTokens: entry.inputTokens,
      outputTokens: entry.outputTokens,
      rootIndex: index,
      requestDigest: entry.requestDigest,
      jsonOutput: entry.jsonOutput,
      input: entry.input,
      source: entry.source,
    });
    shard.metas.write(`${meta}\n`);
    return { seq: shard.seq, index };
  }

  /**
   * Open shards, flushed and described (for a read checkpoint), with their files and those of the
   * shards sealed since the last checkpoint: the caller syncs them before it records the checkpoint.
   */
  checkpoint(): { state: ShardWriterState; files: string[] } {
    const open: OpenShardState[] = [];
    const files = this.takeUnsynced();
    for (const shard of this.open.values()) {
      open.push({
        seq: shard.seq,
        model: shard.model,
        endpoint: shard.endpoint,
        requests: shard.requests,
        bytes: shard.bytes,
        tokens: shard.tokens,
        outputTokens: shard.outputTokens,
        inputs: shard.inputs,
        ...(shard.cached ? { cached: true } : {}),
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

  /** seal every open shard; returns all sealed shards in order, and the files to sync before recording them */
  finish(): { shards: ShardRow[]; files: string[] } {
    for (const shard of this.open.values()) this.seal(shard);
    this.open.clear();
    this.sealed.sort((a, b) => a.seq - b.seq);
    return { shards: this.sealed, files: this.takeUnsynced() };
  }

  /** the files of the shards sealed since the last call (closed, not yet synced) */
  private takeUnsynced(): string[] {
    const files = this.unsynced;
    this.unsynced = [];
    return files;
  }

  /** close files without sealing (on abort) */
  abort(): void {
    for (const shard of this.open.values()) {
      shard.lines.close();
      shard.metas.close();
    }
    this.open.clear();
  }

  /** a new shard, or (`truncateTo`) one continued from a checkpoint */
  private openShard(
    s: Omit<OpenShardState, "fileBytes" | "metaBytes">,
    truncateTo?: { lines: number; metas: number },
  ): OpenShard {
    const { file, metaFile } = shardFiles(this.options.runId, s.seq);
    const at = (rel: string) => path.join(this.options.stateDir, rel);
    // a sent shard's cap follows its sequence number (shardLimits), so a resumed read cuts the same
    // shards; a shard answered from the cache is not sent, so it takes the provider's whole cap
    const { maxRequests, ramp } = this.options.limits;
    const sent = ramp !== null && s.cached !== true;
    return {
      seq: s.seq,
      name: shardName(s.seq),
      model: s.model,
      endpoint: s.endpoint,
      file,
      metaFile,
      requests: s.requests,
      bytes: s.bytes,
      tokens: s.tokens,
      outputTokens: s.outputTokens,
      inputs: s.inputs ?? 0,
      cached: s.cached === true,
      maxRequests: sent
        ? Math.min(maxRequests, ramp.steady, ramp.first * 2 ** Math.min(s.seq - 1, 30))
        : maxRequests,
      lines: new SyncWriter(at(file), { truncateTo: truncateTo?.lines }),
      metas: new SyncWriter(at(metaFile), { truncateTo: truncateTo?.metas }),
    };
  }

  private seal(shard: OpenShard): void {
    shard.lines.close();
    shard.metas.close();
    this.unsynced.push(
      path.join(this.options.stateDir, shard.file),
      path.join(this.options.stateDir, shard.metaFile),
    );
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
      // a cached shard has ended from the start: collection reads its file as the batch's results
      ...(shard.cached
        ? {
            ...NOT_SUBMITTED,
            status: "ended",
            batchStatus: ANSWERED_FROM_CACHE,
            batch: cachedBatch(shard.file),
          }
        : NOT_SUBMITTED),
    });
  }
}

/** a shard row's fields before its first submission */
export const NOT_SUBMITTED = {
  status: "pending",
  submission: 0,
  staged: null,
  batchId: null,
  batchStatus: null,
  createdAt: null,
  batch: null,
} as const satisfies Partial<ShardRow>;

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
  inputs: number;
  cached: boolean;
  /** how many requests it may hold (its place in the ramp, shardLimits) */
  maxRequests: number;
  lines: SyncWriter;
  metas: SyncWriter;
}

/** one open shard per model + endpoint, and apart from them one per model + endpoint answered from the cache */
function openKey(s: { model: string; endpoint: string; cached?: boolean }): string {
  return `${s.cached ? "cache\n" : ""}${s.model}\n${s.endpoint}`;
}

/**
 * Shard sizes when the spec leaves max_requests unset: the first batch goes out once 6,250 records
 * are read (~0.2 s of reading, against ~1.2 s for 50,000), so the provider starts at once and a
 * mistake in the spec shows in a small batch; the next shards hold 12,500, a quarter of OpenAI's cap.
 * A collection holds its shard's meta file in memory and the run ends with its last batch, so
 * smaller batches lower the peak memory (1M records: 353–362 → 321–322 MB) and shorten the tail (100k
 * records: 4.5 → 4.0 s), at 80 batches a million records: far within the provider's rate of batch
 * creation (OpenAI: 2,000 an hour, 25 million requests at 12,500). max_requests raises them.
 */
export const SHARD_REQUESTS = { first: 6_250, steady: 12_500 } as const;

/** a shard's limits: the spec's where it sets them, the provider's otherwise (never past them) */
export function shardLimits(
  batch: { max_requests: number | null; max_bytes: number | null; max_enqueued_tokens: number | null },
  provider: ProviderLimits,
): ShardLimits {
  return {
    maxRequests: Math.min(batch.max_requests ?? provider.maxRequests, provider.maxRequests),
    ramp: batch.max_requests === null ? SHARD_REQUESTS : null,
    maxBytes: Math.min(batch.max_bytes ?? provider.maxBytes, provider.maxBytes),
    // a token queue caps a shard's estimated input tokens; a request queue is capped by maxRequests
    maxTokens: provider.queue.counts === "tokens" ? batch.max_enqueued_tokens : null,
    maxInputs: provider.maxInputs ?? null,
  };
}
