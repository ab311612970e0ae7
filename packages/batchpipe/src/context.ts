/** What every command gets besides its arguments: where to write, colours, the environment. */
import type { EngineTuning } from "@batchpipe/core";
import type { CommandContext } from "citty";

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

export interface CliContext {
  io: CliIo;
  /** colour on stdout / stderr */
  color: { stdout: boolean; stderr: boolean };
  /** --debug: stacks and causes of unexpected errors */
  debug: boolean;
  cwd: string;
  env: Record<string, string | undefined>;
  /** RunCliOptions.engine, for every run a command starts */
  engine: EngineTuning;
  /** how the user started batchpipe (cliCommand), for the commands messages print */
  cli: string;
}

/** the CliContext runCli hands to a command through citty's `data` */
export function cliContext(context: CommandContext<never> | { data?: unknown }): CliContext {
  return context.data as CliContext;
}

/**
 * how the user started batchpipe, so that printed commands paste as they are: `npx batchpipe` (or
 * `pnpm exec`, `yarn`) when a package manager ran it from a project's dependencies (it is then not
 * on the PATH), else `batchpipe`
 */
export function cliCommand(env: Record<string, string | undefined>): string {
  if (env.npm_command !== "exec") return "batchpipe";
  const agent = env.npm_config_user_agent ?? "";
  if (agent.startsWith("pnpm/")) return "pnpm exec batchpipe";
  if (agent.startsWith("yarn/")) return "yarn batchpipe";
  return "npx batchpipe";
}

/** colour on a TTY, never under NO_COLOR or TERM=dumb; FORCE_COLOR forces it */
export function wantsColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
