/**
 * The programmatic API of @batchpipe/core with the official plugins known by name, so that
 * `import { BatchRunner, runSpec } from "batchpipe"` runs `use: jsonl` or `use: emulator` without
 * installing a plugin package beside the script.
 */
import {
  BatchRunner as CoreBatchRunner,
  resolveSpec as coreResolveSpec,
  runSpec as coreRunSpec,
  type Pipeline,
  type PluginRegistry,
  type RunResult,
  type RunSpecOptions,
} from "@batchpipe/core";
import { officialPlugins } from "./official-plugins.js";

export abstract class BatchRunner extends CoreBatchRunner {
  static override builtins: PluginRegistry | undefined = officialPlugins;
}

export function runSpec(spec: unknown, options: RunSpecOptions = {}): Promise<RunResult> {
  return coreRunSpec(spec, { builtins: officialPlugins, ...options });
}

export function resolveSpec(
  spec: unknown,
  options: Pick<RunSpecOptions, "dir" | "plugins" | "builtins" | "env"> = {},
): Promise<Pipeline> {
  return coreResolveSpec(spec, { builtins: officialPlugins, ...options });
}
