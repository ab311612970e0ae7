/**
 * `notify:` — tell someone a run ended, however it ended: POST the run's end report as JSON to each
 * webhook (retried with backoff) and hand the same JSON to each command on stdin. A notification
 * that cannot be delivered is a warning: it never changes the run's outcome.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCodes, type ErrorSummary, summarizeError } from "../errors.js";
import type { NotifyTarget } from "../spec/schema.js";
import type { EngineEvent, EnginePipeline, RunOptions, RunReport, RunResult } from "./types.js";

/** What every notify target receives when a run ends. */
export interface RunEndNotice {
  type: "run_ended";
  name: string;
  run: string;
  /** the report's status when the run finished; `stopped` when it ended on an error or a signal */
  status: RunReport["status"] | "stopped";
  /** the reconciliation report of a run that finished, else null */
  report: RunReport | null;
  /** why a stopped run stopped */
  error: ErrorSummary | null;
  endedAt: string;
}

export interface NotifyOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  warn: (message: string) => void;
  /** webhook attempts (default 5) and the first pause between them (default 1 s, doubling, at most 30 s) */
  attempts?: number;
  firstDelayMs?: number;
}

const ATTEMPT_TIMEOUT_MS = 10_000;

/** Run `run` and tell the spec's notify targets how it ended (nothing to do without targets). */
export async function runNotifying(
  pipeline: EnginePipeline,
  options: RunOptions,
  run: (options: RunOptions) => Promise<RunResult>,
): Promise<RunResult> {
  if (pipeline.spec.notify.length === 0) return run(options);
  // the run's id, once it has one: a notice names it even when the run stops on an error
  let runId: string | null = null;
  const onEvent = (event: EngineEvent) => {
    if (event.type === "run_started") runId = event.run;
    options.onEvent?.(event);
  };
  const notify = (notice: Pick<RunEndNotice, "run" | "status" | "report" | "error">) =>
    notifyRunEnd(
      pipeline.spec.notify,
      { type: "run_ended", name: pipeline.spec.name, ...notice, endedAt: new Date().toISOString() },
      {
        cwd: pipeline.dir,
        env: options.env ?? process.env,
        warn: (message) =>
          options.onEvent?.({ type: "warning", run: runId ?? "", message, code: ErrorCodes.NOTIFY_FAILED }),
      },
    );
  let result: RunResult;
  try {
    result = await run({ ...options, onEvent });
  } catch (error) {
    // a run that never started (its lock is held, its state cannot be opened) is not reported
    if (runId !== null) {
      await notify({ run: runId, status: "stopped", report: null, error: summarizeError(error) });
    }
    throw error;
  }
  await notify({ run: result.run, status: result.status, report: result.report, error: null });
  return result;
}
const COMMAND_TIMEOUT_MS = 60_000;

export async function notifyRunEnd(
  targets: readonly NotifyTarget[],
  notice: RunEndNotice,
  options: NotifyOptions,
): Promise<void> {
  const body = `${JSON.stringify(notice)}\n`;
  await Promise.all(
    targets.map((target) =>
      "webhook" in target ? postWebhook(target, body, options) : runCommand(target.command, body, options),
    ),
  );
}

async function postWebhook(
  target: { webhook: string; headers?: Record<string, string> },
  body: string,
  o: NotifyOptions,
): Promise<void> {
  const attempts = o.attempts ?? 5;
  let delay = o.firstDelayMs ?? 1000;
  // the URL may carry a token: name only its origin
  const where = safeOrigin(target.webhook);
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(target.webhook, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "batchpipe", ...target.headers },
        body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
      // a refusal that another try cannot change
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      last = (error as Error).message;
    }
    if (attempt < attempts) {
      await sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
  }
  o.warn(
    `the notify webhook at ${where} did not take the run's report (${last}); check its URL and that it answers 2xx`,
  );
}

function runCommand(command: string, body: string, o: NotifyOptions): Promise<void> {
  return new Promise((resolve) => {
    // its own process group, so a timeout stops what the command started too
    const child = spawn(command, {
      shell: true,
      cwd: o.cwd,
      env: o.env as NodeJS.ProcessEnv,
      stdio: ["pipe", "ignore", "pipe"],
      detached: true,
    });
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup(child.pid, "SIGTERM");
      setTimeout(() => stopGroup(child.pid, "SIGKILL"), 2000).unref();
    }, COMMAND_TIMEOUT_MS);
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < 2000) stderr += chunk;
    });
    // a command that exits without reading its stdin is fine
    child.stdin.on("error", () => undefined);
    child.stdin.end(body);
    child.on("error", (error) => {
      clearTimeout(timer);
      o.warn(`the notify command \`${command}\` could not start: ${error.message}`);
      resolve();
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      let reported = false;
      const report = () => {
        if (reported) return;
        reported = true;
        child.stderr.destroy();
        if (code === 0) return resolve();
        const why = timedOut
          ? `did not end within ${COMMAND_TIMEOUT_MS / 1000} s and was stopped`
          : signal
            ? `was killed by ${signal}`
            : `exited with ${code}`;
        o.warn(`the notify command \`${command}\` ${why}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
        resolve();
      };
      // a process the command left in the background may hold its stderr open: do not wait for it
      if (child.stderr.closed) report();
      else {
        const grace = setTimeout(report, 200);
        child.stderr.once("close", () => {
          clearTimeout(grace);
          report();
        });
      }
    });
  });
}

function stopGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid URL)";
  }
}
