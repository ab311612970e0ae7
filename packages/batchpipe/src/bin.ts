#!/usr/bin/env node
// The only place that exits the process: everything else returns an exit code.
import { setFlagsFromString } from "node:v8";
import { runCli } from "./run-cli.js";

// After each full GC V8 lets the old generation grow to up to ~4x what survived it; a run's live heap
// is small (~40 MB) but allocates fast while delivering, so RSS sat 100+ MB above it. 1.5x keeps the
// heap proportional to what is live (no cap: a big live set still gets room) for ~5% more CPU.
setFlagsFromString("--heap-growing-percent=50");

process.exitCode = await runCli(process.argv.slice(2));
