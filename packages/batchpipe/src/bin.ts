#!/usr/bin/env node
// The only place that exits the process: everything else returns an exit code.
import { runCli } from "./run-cli.js";

// a reader that went away (`batchpipe try spec | head`): end quietly, as a SIGPIPE would (128 + 13)
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 141);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2));
