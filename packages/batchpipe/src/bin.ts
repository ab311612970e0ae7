#!/usr/bin/env node
// The only place that exits the process: everything else returns an exit code.
import { runCli } from "./run-cli.js";

process.exitCode = await runCli(process.argv.slice(2));
