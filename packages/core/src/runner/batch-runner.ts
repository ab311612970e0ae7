/**
 * `BatchRunner`: the seed's runner class. A subclass declares `static workConfig`, `upload()`,
 * `download()` and optionally `downloadError()`; `Runner.run()` runs them through the engine (the
 * same sharding, queueing, retries and resume as `batchpipe run`). `Runner.status()` and
 * `Runner.cancel()` are `batchpipe status` and `batchpipe cancel` for a runner, which has no spec file.
 *
 * Detach: `run({ detach: true })` starts this same script again (node, its flags and
 * process.argv) as a background process with BATCHPIPE_DAEMON=1 and returns at once; in that child
 * `run()` sees the flag and runs in the foreground, its output going to `.batchpipe/<name>/daemon.log`.
 */
import path from "node:path";
import { type DaemonInfo, enterDaemonChild, startDaemon } from "../daemon/daemon.js";
import { defaultStateDir } from "../engine/run-pipeline.js";
import { type CancelResult, cancelRun, pipelineStatus, type StatusResult } from "../engine/status.js";
import type { EngineEvent, RunResult } from "../engine/types.js";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import type { PluginRegistry } from "../plugins/resolve.js";
import type { Env } from "../spec/interpolate.js";
import { SpecIssueError } from "../spec/locate.js";
import {
  createCallbackSink,
  createItemTransform,
  createUploadSource,
  type UploadFunction,
} from "./inline-plugins.js";
import type { BatchErrorItem, BatchInputFields, BatchOutputItem } from "./items.js";
import { resolveSpec, runSpec } from "./run-spec.js";
import { type ParsedWorkConfig, parseWorkConfig, type WorkConfig } from "./work-config.js";

export interface BatchRunnerRunOptions {
  /** start a background process and return at once (see the class comment) */
  detach?: boolean | undefined;
  /** the folder the state folder (`.batchpipe/<name>`) goes in; default process.cwd() */
  dir?: string | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: EngineEvent) => void) | undefined;
  /** run on a new state although the provider has batches of this name (STATE_LOST) */
  force?: boolean | undefined;
  /** send every request, none answered from the result cache (as `batchpipe run --no-cache`) */
  noCache?: boolean | undefined;
  env?: Env | undefined;
  /** plugins known by name (`use: emulator`); default the class's static `builtins` */
  builtins?: PluginRegistry | undefined;
}

/** What `status()` and `cancel()` take: where the state is, as `run()` was given it. */
export type BatchRunnerStateOptions = Pick<BatchRunnerRunOptions, "dir" | "env" | "builtins"> & {
  /** cancel(): stops its provider calls (retries through an outage too); it then rejects INTERRUPTED */
  signal?: AbortSignal | undefined;
};

/** What `run({ detach: true })` returns in the starting process. */
export interface DetachedRun extends DaemonInfo {
  detached: true;
  stateDir: string;
}

// `| undefined` on each: a subclass's statics are read as such under exactOptionalPropertyTypes
type RunnerClass = {
  name: string;
  workConfig?: WorkConfig | undefined;
  /** plugins known by name; the `batchpipe` package's BatchRunner sets the official ones */
  builtins?: PluginRegistry | undefined;
  upload?: UploadFunction | undefined;
  download?: ((items: AsyncIterable<BatchOutputItem>) => Promise<void> | void) | undefined;
  downloadError?: ((items: AsyncIterable<BatchErrorItem>) => Promise<void> | void) | undefined;
};

// biome-ignore lint/complexity/noStaticOnlyClass: the seed's shape is a class with static members
export abstract class BatchRunner {
  static workConfig: WorkConfig;
  /** plugins known by name (`use: jsonl`, `use: emulator`); `batchpipe`'s BatchRunner sets the official ones */
  static builtins: PluginRegistry | undefined;

  /** yield the requests: `{ id, messages }`, `{ id, input }` or `{ id, body }` */
  static upload():
    | AsyncIterable<BatchInputFields>
    | Iterable<BatchInputFields>
    | Promise<AsyncIterable<BatchInputFields> | Iterable<BatchInputFields>> {
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, "the runner class does not define upload()", {
      hint: 'Add `static async *upload() { yield { id: "1", messages: [...] } }` to the class.',
    });
  }

  /** receives the results of each delivery (successes; failures too when downloadError is not defined) */
  static async download(_items: AsyncIterable<BatchOutputItem>): Promise<void> {}

  /** optional: receives the final failures; when absent they go to download() with status "failed" */
  static downloadError?(items: AsyncIterable<BatchErrorItem>): Promise<void> | void;

  /** runs in this process: the RunResult */
  static run(
    this: RunnerClass,
    options?: BatchRunnerRunOptions & { detach?: false | undefined },
  ): Promise<RunResult>;
  /**
   * `detach` true or a boolean (`process.argv.includes("--detach")`): a DetachedRun in the starting
   * process, the RunResult in the background one (and when not detaching); `if (result.detached)`
   * tells them apart
   */
  static run(
    this: RunnerClass,
    options: BatchRunnerRunOptions,
  ): Promise<(RunResult & { detached?: false }) | DetachedRun>;
  static async run(this: RunnerClass, options: BatchRunnerRunOptions = {}): Promise<RunResult | DetachedRun> {
    // `this` is the subclass run() was called on: its statics are the runner
    // biome-ignore lint/complexity/noUselessThisAlias: see above
    // biome-ignore lint/complexity/noThisInStatic: see above
    const runner: RunnerClass = this;
    const { config, dir, stateDir } = runnerState(runner, options);
    const daemonDir = options.detach ? enterDaemonChild() : undefined;
    if (options.detach && daemonDir === undefined) {
      const info = startDaemon({
        stateDir,
        args: process.argv.slice(1),
        execArgv: process.execArgv,
        env: options.env ?? process.env,
        name: config.name,
      });
      return { ...info, detached: true, stateDir };
    }
    const spec = runnerSpec(runner, config);
    const controller = new AbortController();
    const stop = () => controller.abort();
    // a daemon stops cleanly on SIGTERM (`batchpipe stop`): the state is saved, a later run resumes
    if (daemonDir) {
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    }
    // a signal aborted already fires no "abort" event: without this the run went on and paid
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener("abort", stop, { once: true });
    try {
      return await runSpec(spec, {
        dir,
        stateDir,
        signal: controller.signal,
        onEvent: options.onEvent ?? (daemonDir ? logEvent : undefined),
        force: options.force,
        noCache: options.noCache,
        env: options.env,
        builtins: options.builtins ?? runner.builtins,
      });
    } catch (error) {
      throw inWorkConfig(error, runner);
    } finally {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      options.signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * The runner's latest run, as `batchpipe status` shows it (read-only: a run in progress, in this
   * process or a detached one, is read while it writes). `run` is null before the first run.
   */
  static async status(this: RunnerClass, options: BatchRunnerStateOptions = {}): Promise<StatusResult> {
    // biome-ignore lint/complexity/noThisInStatic: the subclass status() was called on
    const { pipeline, stateDir } = await runnerPipeline(this, options);
    return pipelineStatus(pipeline, { stateDir });
  }

  /**
   * Cancel the unfinished run, as `batchpipe cancel` does: the run is flagged and its open batches
   * are cancelled at the provider. A `run()` in progress (here or detached) delivers what finished
   * and resolves `cancelled`, the rest failed as `batch_cancelled`; with none in progress, the next
   * `run()` does that. Rejects (`USAGE`, "has no unfinished run") when there is none.
   */
  static async cancel(this: RunnerClass, options: BatchRunnerStateOptions = {}): Promise<CancelResult> {
    // biome-ignore lint/complexity/noThisInStatic: the subclass cancel() was called on
    const { pipeline, stateDir } = await runnerPipeline(this, options);
    return cancelRun(pipeline, {
      stateDir,
      env: options.env,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/** The pipeline spec a runner class stands for. */
export function runnerSpec(runner: RunnerClass, config: ParsedWorkConfig): Record<string, unknown> {
  const upload = runner.upload?.bind(runner);
  const download = runner.download?.bind(runner);
  if (!upload)
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, `${runner.name} has no upload()`, {
      hint: 'Add `static async *upload() { yield { id: "1", messages: [...] } }` to the class.',
    });
  if (!download)
    throw new BatchpipeError(ErrorCodes.SPEC_INVALID, `${runner.name} has no download()`, {
      hint: "Add `static async download(items) { for await (const item of items) { … } }` to the class.",
    });
  const downloadError = runner.downloadError?.bind(runner);
  return {
    version: 1,
    name: config.name,
    ...(config.provider ? { provider: config.provider } : {}),
    source: { use: createUploadSource(upload, `${runner.name}.upload()`) },
    transform: { use: createItemTransform(config) },
    batch: {
      ...config.batch,
      completion_window: config.completion_window,
      clean_up: config.clean_up,
      allow_same_dataset: config.allow_same_dataset,
    },
    ...(config.pricing ? { pricing: config.pricing } : {}),
    ...(config.model_limits ? { model_limits: config.model_limits } : {}),
    sinks: [{ use: createCallbackSink(download, { name: `${runner.name}.download()` }) }],
    errors: [
      {
        use: downloadError
          ? createCallbackSink(downloadError, { name: `${runner.name}.downloadError()` })
          : createCallbackSink(download, { name: `${runner.name}.download()`, asOutput: true }),
      },
    ],
  };
}

// --- internal ---

/** the runner's work config, the folder its paths resolve against, and its state folder */
function runnerState(runner: RunnerClass, options: { dir?: string | undefined }) {
  const config = parseWorkConfig(runner.workConfig, `${runner.name}.workConfig`);
  const dir = path.resolve(options.dir ?? process.cwd());
  const stateDir = config.state_dir
    ? path.resolve(dir, config.state_dir)
    : defaultStateDir({ dir, spec: { name: config.name } as never });
  return { config, dir, stateDir };
}

/** the pipeline a runner class stands for, resolved (nothing is read or sent), and its state folder */
async function runnerPipeline(runner: RunnerClass, options: BatchRunnerStateOptions) {
  const { config, dir, stateDir } = runnerState(runner, options);
  const pipeline = await resolveSpec(runnerSpec(runner, config), {
    dir,
    env: options.env,
    builtins: options.builtins ?? runner.builtins,
  }).catch((error: unknown) => {
    throw inWorkConfig(error, runner);
  });
  return { pipeline, stateDir };
}

/**
 * A problem of the spec a runner stands for, said where the runner's author wrote it, as
 * parseWorkConfig says its own: "Reviews.workConfig.provider: no OpenAI API key", not "the pipeline
 * spec has a problem at provider" (a runner has no spec). Problems elsewhere are left as they are.
 */
function inWorkConfig(error: unknown, runner: RunnerClass): unknown {
  if (
    isBatchpipeError(error) &&
    error.code === ErrorCodes.BUDGET_EXCEEDED &&
    error.hint?.includes(SPEC_PRICING)
  )
    return new BatchpipeError(error.code, error.message, {
      hint: error.hint.replace(SPEC_PRICING, `to ${runner.name}.workConfig: pricing:`),
      cause: error,
    });
  if (!isBatchpipeError(error) || error.code !== ErrorCodes.SPEC_INVALID || error.loc) return error;
  const owner = `${runner.name}.workConfig`;
  const details = error.details ?? [];
  const paths = details.map((d) => (d instanceof SpecIssueError ? workConfigPath(d.path) : undefined));
  if (details.length === 0 || paths.some((p) => p === undefined)) return error;
  const moved = details.map((d, i) => {
    const at = paths[i]!;
    // where a runner's key and provider options come from; not about which plugin `use` names
    const keyRelated = at.startsWith("provider") && at !== "provider.use";
    const hint = keyRelated ? `${d.hint ? `${d.hint}; ` : ""}${KEY_HINT}` : d.hint;
    return new BatchpipeError(d.code, `${owner}.${at}: ${d.message}`, { hint, cause: d.cause });
  });
  const first = moved[0]!;
  return new BatchpipeError(
    ErrorCodes.SPEC_INVALID,
    moved.length === 1
      ? first.message
      : `${owner} has ${moved.length} problems:\n${moved.map((d) => `  ${d.message}`).join("\n")}`,
    { hint: first.hint, details: moved, cause: error },
  );
}

/** where a key of the spec runnerSpec builds comes from in workConfig (undefined: not from workConfig) */
function workConfigPath(specPath: string): string | undefined {
  if (/^(name|provider|pricing|model_limits)(\.|$)/.test(specPath)) return specPath;
  const batch = /^batch\.(completion_window|clean_up|allow_same_dataset)$/.exec(specPath);
  if (batch) return batch[1];
  return specPath.startsWith("batch.") ? specPath : undefined;
}

/** the scheduler's hint for a model without a price names the spec's key; a runner's is in workConfig */
const SPEC_PRICING = "to the spec: pricing:";

const KEY_HINT =
  "a runner reads the environment run({ env }) gives (default process.env), and takes the provider's options in workConfig.provider ({ use, base_url?, api_key? })";

/** a daemon's log: one line per event that matters */
function logEvent(event: EngineEvent): void {
  if (event.type === "progress" || event.type === "batch_status" || event.type === "read_progress") return;
  process.stdout.write(`${new Date().toISOString()} ${JSON.stringify(event)}\n`);
}
