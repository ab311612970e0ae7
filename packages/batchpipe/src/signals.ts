/**
 * SIGINT/SIGTERM for long commands (run, watch, cancel): the first signal aborts the work so it saves
 * its state; a second one leaves at once (the state is consistent at every step).
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

/** `background`: a `--detach` child, which no Ctrl-C reaches: its log says how to quit at once */
export function trapSignals(options: {
  io: CliIo;
  quiet: boolean;
  background?: boolean;
  onFirst?: () => void;
  /** what the first signal does, as the message says it (default "saving state") */
  doing?: string;
}): SignalTrap {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const handler = (name: StopSignal) => () => {
    if (received) process.exit(exitCodeForSignal(name));
    received = name;
    options.onFirst?.();
    const again = options.background
      ? `another SIGTERM (kill ${process.pid}) quits at once`
      : "press Ctrl-C again to quit at once";
    if (!options.quiet)
      options.io.stderr.write(`\n${name} received: ${options.doing ?? "saving state"} (${again})…\n`);
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
