/**
 * Where a record read goes: a failure row, a duplicate id, a request identical to one placed (a
 * fan-out row), a request answered from the result cache, or a new request in a shard. One call of
 * `place` per record; the read phase (read-phase.ts) owns the loop, the checkpoints and the files.
 */
import { cachedEntry, isFromCache } from "../../cache/cached-shard.js";
import { type CacheHit, type CacheLookup, UNPRICED } from "../../cache/index.js";
import { isBatchpipeError } from "../../errors.js";
import { estimateOutputTokens } from "../../estimate/index.js";
import { livePricesFor, pricesFor } from "../../estimate/pricing.js";
import { isInvalidRecord, type SourceItem, type SourceRecord, type TransformHandle } from "../../plugin.js";
import type { RunTotals } from "../../state/index.js";
import type { ReadCheckpoint } from "../codecs/read-checkpoint.js";
import type { EnginePipeline } from "../types.js";
import type { DuplicateIds } from "./duplicates.js";
import type { TokenEstimator } from "./estimator.js";
import type { FanoutGate, FanoutRows } from "./fanout-gate.js";
import type { RequestIndex } from "./id-index.js";
import type { LimitsCheck } from "./limits-check.js";
import { failureRows } from "./prep-failures.js";
import { toRequest } from "./read-errors.js";
import { sumCosts } from "./read-totals.js";
import type { ReadResume } from "./resume.js";
import {
  requestTooLarge,
  type ShardEntry,
  type ShardLimits,
  type ShardWriter,
  shardName,
} from "./shard-writer.js";
import { encodeRequest, recordJson, tooDeep } from "./too-deep.js";

export interface PlacementOptions {
  pipeline: EnginePipeline;
  transform: TransformHandle;
  totals: RunTotals;
  resume: ReadResume | undefined;
  writer: ShardWriter;
  duplicates: DuplicateIds;
  requests: RequestIndex;
  estimator: TokenEstimator;
  limits: ShardLimits;
  modelLimits: LimitsCheck;
  fanout: FanoutRows;
  /** writes one failure row (a JSON line without its newline) */
  fail(line: string): void;
  signal: AbortSignal;
  cache?: CacheLookup;
  deliveredBefore?: (id: string) => string | undefined;
  gate?: FanoutGate;
}

export class RecordPlacement {
  private readonly o: PlacementOptions;
  private readonly totals: RunTotals;
  private readonly rows: ReturnType<typeof failureRows>;
  private readonly batchKey: Set<string>;
  /** estimated tokens of the requests to send, by model (for the estimated cost) */
  private readonly costByModel: Map<string, { input: number; output: number }>;
  /** shards answered from the result cache (by seq): a record identical to one of theirs is cached too */
  private readonly cachedShards: Set<number>;
  /** the models of each shard whose batches mix models (its entries' `model` is "") */
  private readonly shardModels = new Map<number, Set<string>>();
  // every request is looked up only when the cache had entries at the start (a lookup costs ~4–8 µs)
  private readonly lookUpAll: boolean;

  constructor(o: PlacementOptions) {
    this.o = o;
    this.totals = o.totals;
    this.rows = failureRows(o.pipeline.dir);
    this.batchKey = new Set(o.pipeline.provider.plugin.limits(o.pipeline.provider.options).batchKey);
    const saved = o.resume?.checkpoint;
    this.costByModel = new Map(saved?.costByModel ?? []);
    this.cachedShards = new Set([
      ...(o.resume?.sealed ?? []).filter((s) => isFromCache(s.batch)).map((s) => s.seq),
      ...(saved?.writer.open ?? []).filter((s) => s.cached).map((s) => s.seq),
    ]);
    this.lookUpAll = (o.cache?.size ?? 0) > 0;
  }

  /** one record; a promise when it waits for an identical request's collection to end */
  place(item: SourceItem): Promise<void> | undefined {
    const { o, totals, rows } = this;
    if (isInvalidRecord(item)) {
      totals.invalid++;
      o.fail(rows.invalid(item));
      return;
    }
    // the record's data as JSON, once: what a shard's meta, a fan-out row or a failure row holds
    const input = recordJson(item.data);
    if (input === undefined) {
      totals.invalid++;
      o.fail(rows.invalid(tooDeep(item)));
      return;
    }
    const request = toRequest(o.transform, item, o.pipeline.transform.label);
    if (isBatchpipeError(request)) {
      totals.rejected++;
      // a refused record takes its id too: the first occurrence wins, so no later record of the
      // run succeeds under the id whose earlier rows its failure makes stale (Delivery.prepFailures)
      const id = request.recordId;
      o.fail(
        (id && this.duplicateOf(item, id, input)) ||
          rows.rejected(item, { code: request.code, message: request.message, id }, input),
      );
      return;
    }
    const id = request.custom_id;
    const duplicate = this.duplicateOf(item, id, input);
    if (duplicate !== undefined) {
      totals.rejected++;
      o.fail(duplicate);
      return;
    }

    const encoded = encodeRequest(o.pipeline.provider, request);
    if (encoded === undefined) {
      totals.rejected++;
      o.fail(rows.rejected(item, { ...tooDeep(item, "its request").invalid, id }, input));
      return;
    }
    const { line, model, json, digest, inputs } = encoded;
    const bytes = Buffer.byteLength(line) + 1;
    const inputTokens = o.estimator.estimate(model, request);
    const outputTokens = estimateOutputTokens(request.body, { url: request.url });
    const tooLarge = requestTooLarge(o.limits, { bytes, inputTokens, inputs });
    if (tooLarge) {
      totals.rejected++;
      o.fail(rows.rejected(item, { code: "request_too_large", message: tooLarge, id }, input));
      return;
    }
    const overLimit = o.modelLimits.failure(id, model, inputTokens, request.body);
    if (overLimit?.fail) {
      totals.rejected++;
      o.fail(rows.rejected(item, { code: overLimit.code, message: overLimit.message, id }, input));
      return;
    }
    const same = o.requests.get(digest);
    // a root whose collection began cannot deliver more fan-out rows (fanout-gate.ts)
    if (same && (o.gate?.canFanOut(shardName(same.shard)) ?? true)) {
      totals.identical++;
      if (this.cachedShards.has(same.shard)) totals.cachedRecords = (totals.cachedRecords ?? 0) + 1;
      const root = shardName(same.shard);
      o.gate?.added(root);
      o.fanout.add(root, {
        canonical: String(same.index),
        recordId: id,
        input,
        source: JSON.stringify(item.position),
      });
      return;
    }
    const entry: ShardEntry = {
      model: this.batchKey.has("model") ? model : "",
      endpoint: this.batchKey.has("endpoint") ? request.url : "",
      line,
      bytes,
      inputTokens,
      outputTokens,
      inputs,
      id,
      requestDigest: digest,
      jsonOutput: json,
      input,
      source: item.position,
    };
    // --- result cache (cache/): a request that succeeded in an earlier run is not sent again, nor
    // one identical to a request whose collection began in this run (its result may be cached now)
    const hit = this.lookUpAll || same ? o.cache?.get(digest) : undefined;
    if (hit) {
      this.placeCached(entry, hit, model);
      return;
    }
    // its twin is being collected (a resumed run collects the batches that ended meanwhile while
    // it reads): wait for that to end and take its result, instead of paying for it again
    const collecting = same && o.cache ? o.gate?.whileCollecting(shardName(same.shard), o.signal) : undefined;
    if (collecting)
      return collecting.then(() => {
        const late = o.cache?.get(digest);
        return late ? this.placeCached(entry, late, model) : this.placeNew(entry, model);
      });
    // --- end result cache
    this.placeNew(entry, model);
  }

  /** the estimated costs the checkpoint keeps */
  costState(): ReadCheckpoint["costByModel"] {
    return [...this.costByModel].map(([model, c]) => [model, { ...c }]);
  }

  /** the read ended: the estimated costs into the totals; the live one (null: a price unknown) */
  sumCosts(pricing: EnginePipeline["spec"]["pricing"]): number | null {
    const live = sumCosts(this.costByModel, livePricesFor(pricing));
    this.totals.estimatedCost = sumCosts(this.costByModel, pricesFor(pricing));
    this.totals.estimatedLiveCost = live;
    return live;
  }

  /** the models of each shard (by seq) whose batches mix models, in the order met */
  modelsByShard(): Map<number, string[]> {
    return new Map([...this.shardModels].map(([seq, models]) => [seq, [...models]]));
  }

  /** takes the record's custom_id; the failure row of a duplicate when an earlier record has it */
  private duplicateOf(item: SourceRecord, id: string, input: string): string | undefined {
    const message = this.o.duplicates.claim(id, item.position, this.o.deliveredBefore);
    return message === undefined
      ? undefined
      : this.rows.rejected(item, { code: "duplicate_id", message, id }, input);
  }

  private placeCached(entry: ShardEntry, hit: CacheHit, model: string): void {
    const { totals } = this;
    const placed = this.o.writer.add(cachedEntry(entry, hit));
    this.placedModel(placed.seq, entry, model);
    this.o.requests.set(entry.requestDigest, placed.seq, placed.index);
    this.cachedShards.add(placed.seq);
    totals.cached = (totals.cached ?? 0) + 1;
    totals.cachedRecords = (totals.cachedRecords ?? 0) + 1;
    if (hit.cost === UNPRICED) totals.cachedUnpriced = (totals.cachedUnpriced ?? 0) + 1;
    else totals.cachedCost = (totals.cachedCost ?? 0) + hit.cost;
  }

  private placeNew(entry: ShardEntry, model: string): void {
    const { totals } = this;
    const { requestDigest: digest, inputTokens, outputTokens } = entry;
    const placed = this.o.writer.add(entry);
    this.placedModel(placed.seq, entry, model);
    this.o.requests.set(digest, placed.seq, placed.index);
    totals.requests++;
    totals.estimatedInputTokens += inputTokens;
    totals.estimatedOutputTokens += outputTokens;
    const perModel = this.costByModel.get(model) ?? { input: 0, output: 0 };
    perModel.input += inputTokens;
    perModel.output += outputTokens;
    this.costByModel.set(model, perModel);
  }

  /** a request of `model` was placed in shard `seq`: remembered when the shard's batches mix models */
  private placedModel(seq: number, entry: ShardEntry, model: string): void {
    if (entry.model !== "" || model === "") return;
    const models = this.shardModels.get(seq);
    if (models) models.add(model);
    else this.shardModels.set(seq, new Set([model]));
  }
}
