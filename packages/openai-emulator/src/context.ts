import type { Clock } from "./clock.js";
import type { FileStore } from "./files/store.js";
import type { ResolvedOptions } from "./options.js";
import type { Ids } from "./random.js";

/** Shared state every part of the emulator reads; `options` may be replaced at run time. */
export interface EmulatorContext {
  options: ResolvedOptions;
  clock: Clock;
  store: FileStore;
  ids: Ids;
  counters: Record<string, number>;
}

export function bump(ctx: EmulatorContext, counter: string, by = 1): void {
  ctx.counters[counter] = (ctx.counters[counter] ?? 0) + by;
}

/** Whether a model name is in the configured set (exact names, or prefixes ending in "*"). */
export function isKnownModel(models: readonly string[], model: string): boolean {
  return models.some((m) => (m.endsWith("*") ? model.startsWith(m.slice(0, -1)) : m === model));
}
