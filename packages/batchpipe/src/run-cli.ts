/**
 * The `batchpipe` command line: parses argv, runs one command, renders errors and returns the exit
 * code (0 ok, 1 run error, 2 invalid spec or usage, 3 finished with failed requests). It never
 * exits the process: bin.ts does.
 *
 * Commands live in ./commands/<name>.ts (a citty command whose `run` may return an exit code) and
 * are registered in COMMANDS below, imported lazily.
 */
import { readFileSync } from "node:fs";
import { closest, type EngineTuning, ErrorCodes } from "@batchpipe/core";
import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { type CliContext, type CliIo, cliCommand, stripAnsi, wantsColor } from "./context.js";
import { ExitCode } from "./exit-codes.js";
import { errorEvent, exitCodeFor, renderError } from "./render-error.js";
import { usageWidth, wrapUsage } from "./usage-text.js";

// biome-ignore lint/suspicious/noExplicitAny: commands have their own argument types
type LazyCommand = () => Promise<CommandDef<any>>;

/** every subcommand, one line each */
export const COMMANDS: Record<string, LazyCommand> = {
  validate: () => import("./commands/validate.js").then((m) => m.default),
  schema: () => import("./commands/schema.js").then((m) => m.default),
  run: () => import("./commands/run.js").then((m) => m.default),
  plan: () => import("./commands/plan.js").then((m) => m.default),
  try: () => import("./commands/try.js").then((m) => m.default),
  status: () => import("./commands/status.js").then((m) => m.default),
  runs: () => import("./commands/runs.js").then((m) => m.default),
  init: () => import("./commands/init.js").then((m) => m.default),
  cancel: () => import("./commands/cancel.js").then((m) => m.default),
  emulator: () => import("./commands/emulator.js").then((m) => m.default),
  watch: () => import("./commands/watch.js").then((m) => m.default),
  stop: () => import("./commands/stop.js").then((m) => m.default),
  logs: () => import("./commands/logs.js").then((m) => m.default),
  view: () => import("./commands/view.js").then((m) => m.default),
  cache: () => import("./commands/cache.js").then((m) => m.default),
};

export interface RunCliOptions {
  /** where output goes (default process.stdout / process.stderr) */
  io?: CliIo;
  /** default process.cwd() */
  cwd?: string;
  /** default process.env */
  env?: Record<string, string | undefined>;
  /** passed to every run the command starts (tests use it to checkpoint and deliver in small steps) */
  engine?: EngineTuning;
}

export const VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;

export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr };
  const env = options.env ?? process.env;
  const ctx: CliContext = {
    io,
    env,
    cwd: options.cwd ?? process.cwd(),
    engine: options.engine ?? {},
    cli: cliCommand(env),
    debug: argv.includes("--debug"),
    color: { stdout: wantsColor(io.stdout, env), stderr: wantsColor(io.stderr, env) },
  };
  const args = argv.filter((arg) => arg !== "--debug");
  const out = (text: string) => io.stdout.write(ctx.color.stdout ? text : stripAnsi(text));
  const err = (text: string) => io.stderr.write(ctx.color.stderr ? text : stripAnsi(text));

  const nameIndex = args.findIndex((arg) => !arg.startsWith("-"));
  const wantsHelp = (list: string[]) => list.includes("--help") || list.includes("-h");
  if (nameIndex === -1) {
    if (args.includes("--version") || args.includes("-v")) {
      out(`batchpipe ${VERSION}\n`);
      return ExitCode.OK;
    }
    if (wantsHelp(args)) {
      out(`${wrapUsage(await renderUsage(main), usageWidth(io.stdout))}\n`);
      return ExitCode.OK;
    }
    err(`${wrapUsage(await renderUsage(main), usageWidth(io.stderr))}\n`);
    if (args.length > 0)
      err(
        `\n${usageError(`unknown option ${args[0]}`, `a command comes first; \`${ctx.cli} <command> --help\` lists its options`)}`,
      );
    return ExitCode.USAGE;
  }

  const name = args[nameIndex]!;
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const suggestion = closest(name, Object.keys(COMMANDS));
    err(
      usageError(
        `unknown command "${name}"`,
        suggestion ? `did you mean "${suggestion}"?` : `the commands are ${Object.keys(COMMANDS).join(", ")}`,
      ),
    );
    return ExitCode.USAGE;
  }
  const command = await load();
  const rest = args.slice(nameIndex + 1);
  if (wantsHelp(rest)) {
    out(`${wrapUsage(await renderUsage(command, main), usageWidth(io.stdout))}\n`);
    return ExitCode.OK;
  }
  try {
    await checkFlags(command, rest, name);
    const { result } = await runCommand(command, { rawArgs: rest, data: ctx });
    return typeof result === "number" ? result : ExitCode.OK;
  } catch (error) {
    // a script reading --json gets the error as an event too, not only a bare exit code
    if (rest.includes("--json")) out(`${JSON.stringify(errorEvent(error, isUsageError(error)))}\n`);
    if (isUsageError(error)) {
      err(usageError(stripAnsi((error as Error).message), `see \`${ctx.cli} ${name} --help\``));
      return ExitCode.USAGE;
    }
    err(`${renderError(error, { color: ctx.color.stderr, debug: ctx.debug, cwd: ctx.cwd })}\n`);
    return exitCodeFor(error);
  }
}

// --- internal ---

const main = defineCommand({
  meta: {
    name: "batchpipe",
    version: VERSION,
    description: "Run datasets through LLM batch APIs from a YAML pipeline",
  },
  args: {
    debug: { type: "boolean", description: "Show stacks and causes of unexpected errors" },
    version: { type: "boolean", description: "Print the version" },
  },
  subCommands: COMMANDS,
});

class UsageError extends Error {
  override name = "CLIError";
}

/** a command-line mistake, rendered as a BatchpipeError of code USAGE is */
function usageError(message: string, hint: string): string {
  return `✖ ${message} (${ErrorCodes.USAGE})\n  hint: ${hint}\n`;
}

function isUsageError(error: unknown): boolean {
  return error instanceof Error && error.name === "CLIError";
}

/** citty ignores unknown flags; batchpipe rejects them, with a suggestion */
async function checkFlags(command: CommandDef<ArgsDef>, rawArgs: string[], name: string) {
  const defs = typeof command.args === "function" ? await command.args() : await command.args;
  const known = new Set<string>();
  /** flags that take a value, with what it is */
  const valued = new Map<string, string>();
  /** the positional arguments it declares, as its help names them */
  const positionals: string[] = [];
  /** the positional arguments given */
  const given: string[] = [];
  for (const [flag, def] of Object.entries(defs ?? {})) {
    if (def.type === "positional") {
      positionals.push(flag.toUpperCase());
      continue;
    }
    const aliases = "alias" in def && def.alias ? [def.alias].flat() : [];
    for (const name of [kebab(flag), ...aliases]) {
      known.add(name);
      if (def.type === "string")
        valued.set(name, "valueHint" in def && def.valueHint ? `a ${def.valueHint}` : "a value");
    }
  }
  let value = false;
  for (const [i, arg] of rawArgs.entries()) {
    if (arg === "--") {
      given.push(...rawArgs.slice(i + 1));
      break;
    }
    if (value || !arg.startsWith("-") || arg === "-") {
      if (!value) given.push(arg);
      value = false;
      continue;
    }
    const flagName = arg.replace(/^--?/, "").split("=")[0]!;
    // citty would take the next flag as the value (`--state-dir --force`: a folder named --force)
    // or ignore the flag; a value may be `-` (standard input) or a negative number
    const next = rawArgs[i + 1];
    if (valued.has(flagName) && !arg.includes("=") && (next === undefined || /^-(-|[^\d])/.test(next))) {
      throw new UsageError(`${arg} needs ${valued.get(flagName)} after it`);
    }
    value = valued.has(flagName) && !arg.includes("=");
    // `--no-x` negates a boolean x, unless a flag is declared as no-x (--no-cache)
    const flag = flagName.replace(/^no-/, "");
    if ([flagName, flag].some((f) => known.has(f) || known.has(kebab(f)))) continue;
    // one letter is one edit from every other letter: `-n` is no typo of `-f`, so a one-letter
    // option gets no suggestion, and only long names are suggested (with their `--`)
    const suggestion =
      flag.length === 1
        ? undefined
        : (closest(
            flag,
            [...known].filter((name) => name.length > 1),
          ) ?? (known.has(`no-${flag}`) ? `no-${flag}` : undefined));
    throw new UsageError(
      `unknown option ${arg.split("=")[0]} for ${name}${suggestion ? ` (did you mean --${suggestion}?)` : ""}`,
    );
  }
  // a command takes as many as it declares (view takes any number of specs)
  const extra = given[positionals.length];
  if (extra !== undefined && !VARIADIC.has(name))
    throw new UsageError(
      `unexpected argument "${extra}": ${name} takes ${positionals.length === 0 ? "none" : `${positionals.length === 1 ? "one" : positionals.length} (${positionals.join(", ")})`}`,
    );
}

/** commands whose positional argument may be given several times */
const VARIADIC = new Set(["view"]);

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
