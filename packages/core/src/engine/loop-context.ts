/**
 * What every step of the run loop shares: the pipeline, the state, the provider connection and the
 * run's shards (the in-memory copy of their rows, patched together with the state).
 */
import { ErrorCodes, isBatchpipeError } from "../errors.js";
import type { Logger } from "../plugin.js";
import type { ProviderConnection } from "../provider/contract.js";
import type { RunCounters, ShardRow, ShardStatus, StateStore } from "../state/index.js";
import type { EngineEvent, EnginePipeline } from "./types.js";

export interface LoopContext {
  pipeline: EnginePipeline;
  state: StateStore;
  provider: ProviderConnection;
  runId: string;
  /** when the run was created (ms): reconciliation looks back from there */
  runCreatedAt: number;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit(event: EngineEvent): void;
  shards: Map<string, ShardRow>;
  counters: RunCounters;
}

/** change a shard in memory and in the state */
export function patchShard(ctx: LoopContext, shard: ShardRow, patch: Partial<ShardRow>): void {
  Object.assign(shard, patch);
  ctx.state.updateShard(ctx.runId, shard.name, patch);
}

/** the shards in `status`, in submission order */
export function shardsIn(ctx: LoopContext, status: ShardStatus): ShardRow[] {
  return [...ctx.shards.values()]
    .filter((s) => s.status === status)
    .sort((a, b) => a.seq - b.seq || a.attempt - b.attempt);
}

export function warn(ctx: LoopContext, message: string): void {
  ctx.emit({ type: "warning", run: ctx.runId, message });
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** errors that no retry fixes: a bad key, a bad request, or not a provider error at all */
export function fatalProviderError(error: unknown): boolean {
  if (!isBatchpipeError(error)) return true;
  if (error.code !== ErrorCodes.PROVIDER_FAILED) return true;
  const status = (error as { status?: number }).status;
  return status === 400 || status === 401 || status === 403 || status === 404 || status === 422;
}
