/** Parses argv, runs a command, renders errors; returns the exit code (0 ok, 1 run error, 2 usage/spec, 3 some failed). */
export async function runCli(argv: string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write("batchpipe 0.1.0\n");
    return 0;
  }
  process.stderr.write("batchpipe: no commands yet\n");
  return 2;
}
