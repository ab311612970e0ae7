// Test-only entry: the batchpipe CLI with RunCliOptions.engine given as JSON in the first argument,
// so tests that SIGKILL a real child process can still make it checkpoint and deliver in small steps.
// Usage: node cli-child.mjs '{"deliveryPartSize":70}' run pipeline.yaml --json
import { runCli } from "../../dist/run-cli.js";

const [engine, ...argv] = process.argv.slice(2);
process.exitCode = await runCli(argv, { engine: JSON.parse(engine) });
