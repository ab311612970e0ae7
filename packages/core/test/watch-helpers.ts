/** `batchpipe watch --json` in a child process, for the watch tests. */
import { type ChildProcess, spawn } from "node:child_process";
import readline from "node:readline";
import { CHILD_ENV, CLI } from "./runner-helpers.js";

export type Event = { type: string; [key: string]: unknown };

export interface Watcher {
  child: ChildProcess;
  events: Event[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** `batchpipe watch --json` in a child process; `killWhen` SIGKILLs it on the first matching event */
export function startWatcher(
  dir: string,
  killWhen?: (event: Event) => boolean,
  extra: string[] = [],
): Watcher {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "watch",
      "pipeline.yaml",
      "--json",
      ...(extra.includes("--settle") ? [] : ["--settle", "1500ms"]),
      "--coalesce",
      "300ms",
      ...extra,
    ],
    { cwd: dir, env: CHILD_ENV, stdio: ["ignore", "pipe", "pipe"] },
  );
  const events: Event[] = [];
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      const event = JSON.parse(line) as Event;
      events.push(event);
      if (killWhen?.(event)) child.kill("SIGKILL");
    } catch {}
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, events, exited, stderr: () => stderr };
}
