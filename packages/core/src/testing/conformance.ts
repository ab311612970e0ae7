import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { type PluginContext, silentLogger } from "../plugin.js";

/**
 * One check of a conformance suite: register it with any runner, e.g.
 * `for (const check of testSink(plugin, opts)) test(check.name, check.run)`.
 * Checks throw (node:assert) on failure; they create and remove their own temp folders.
 */
export interface ConformanceCheck {
  name: string;
  run(): Promise<void>;
}

/** A bad options object and the path zod must report for it. */
export interface InvalidOptionsCase {
  options: unknown;
  path: readonly (string | number)[];
}

export { silentLogger };

/** A plugin context rooted at `dir` (resolvePath resolves against it). */
export function createTestContext<O>(
  dir: string,
  options: O,
  signal: AbortSignal = new AbortController().signal,
): PluginContext<O> {
  return { options, resolvePath: (path) => resolve(dir, path), logger: silentLogger, signal };
}

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(resolve(tmpdir(), "batchpipe-conformance-"));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
