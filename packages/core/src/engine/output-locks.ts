/**
 * A file a sink writes alone (a `writes` path of its `check` hook without a `part`: a jsonl file)
 * is held by one run at a time, across processes: two pipelines (or two state folders of one) given
 * the same output file at once each wrote at their own offsets, over each other's rows, and both
 * said every request succeeded (2,660 of 6,000 rows lost in a tester's run). The lock is the state
 * lock's kind (an OS lock the kernel drops when its holder dies, state/lock.ts), on a hidden file
 * beside the output: `.<name>.batchpipe-lock`, left in place (deleting it would let two processes
 * each lock a file of that name).
 */
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { makeDirs } from "../make-dirs.js";
import { holdExclusive, type StateLock } from "../state/lock.js";
import type { EnginePipeline } from "./types.js";

/** how long to wait for an output's lock before refusing: a probe's worth, as for the state lock */
const WAIT_MS = 250;

/** the lock of every file the pipeline's sinks write alone; refused when another run holds one */
export async function lockOutputs(pipeline: EnginePipeline): Promise<StateLock> {
  const held: { close(): void }[] = [];
  const release = () => {
    for (const lock of held.splice(0)) lock.close();
  };
  const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
  const seen = new Set<string>();
  try {
    for (const ref of [...pipeline.sinks, ...pipeline.errors]) {
      const writes = ref.plugin.check?.({ options: ref.options, resolvePath, env: {} }).writes ?? [];
      for (const write of writes) {
        if (write.part !== undefined || seen.has(write.path)) continue;
        seen.add(write.path);
        const lock = await holdOutput(write.path);
        if (lock === null) throw refused(pipeline, write.path, ref.label, write.option);
        if (lock) held.push(lock);
      }
    }
  } catch (error) {
    release();
    throw error;
  }
  return { release };
}

/**
 * the lock of `output`: null when another process holds it; undefined when it cannot be taken at
 * all (a folder that cannot be made or written: the sink's own open says so, at its place)
 */
async function holdOutput(output: string): Promise<{ close(): void } | null | undefined> {
  try {
    makeDirs(path.dirname(output));
    return (
      (await holdExclusive(
        path.join(path.dirname(output), `.${path.basename(output)}.batchpipe-lock`),
        WAIT_MS,
      )) ?? null
    );
  } catch {
    return undefined;
  }
}

function refused(pipeline: EnginePipeline, file: string, label: string, option: string): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `another batchpipe run is writing ${file}, the ${option} of ${label}: two runs writing one file at once overwrite each other's rows`,
    {
      hint: `Wait for that run to end, or give ${pipeline.spec.name} (or each state folder of it) an output path of its own.`,
    },
  );
}
