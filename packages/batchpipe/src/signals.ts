/**
 * SIGINT/SIGTERM for long commands (run, watch): the first signal aborts the work so it saves its
 * state; a second one leaves at once (the state is consistent at every step).
 */
import type { CliIo } from "./context.js";

export type StopSignal = "SIGINT" | "SIGTERM";

export interface SignalTrap {
  signal: AbortSignal;
  /** the signal received, if any */
  received(): StopSignal | undefined;
  dispose(): void;
}

export function exitCodeForSignal(name: StopSignal): number {
  return name === "SIGINT" ? 130 : 143;
}

export function trapSignals(options: { io: CliIo; quiet: boolean; onFirst?: () => void }): SignalTrap {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const handler = (name: StopSignal) => () => {
    if (received) process.exit(exitCodeForSignal(name));
    received = name;
    options.onFirst?.();
    if (!options.quiet)
      options.io.stderr.write(`\n${name} received: saving state (press Ctrl-C again to quit at once)…\n`);
    controller.abort();
  };
  const sigint = handler("SIGINT");
  const sigterm = handler("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      process.off("SIGINT", sigint);
      process.off("SIGTERM", sigterm);
    },
  };
}
