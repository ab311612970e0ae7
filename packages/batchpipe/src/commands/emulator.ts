/** `batchpipe emulator [--port N] …`: start the OpenAI Batch API emulator, with the batchpipe-emulator bin's options. */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { portInUse } from "./port-in-use.js";

export default defineCommand({
  meta: { name: "emulator", description: "Start the OpenAI + Anthropic batch API emulator on loopback" },
  args: {
    port: { type: "string", description: "Port (default: a free one)" },
    host: { type: "string", description: "Host (default 127.0.0.1)" },
    "time-scale": { type: "string", description: "Emulated seconds per real second (e.g. 3600)" },
    seed: { type: "string", description: "Seed for ids, output order and faults" },
    config: { type: "string", description: "A JSON file of emulator options (the flags override it)" },
    "data-dir": {
      type: "string",
      valueHint: "folder",
      description: "Where uploaded and output files are kept (default: a temp folder, removed at the end)",
    },
    "api-key": {
      type: "string",
      valueHint: "key",
      description: "The one bearer token it accepts (default: any)",
    },
  },
  async run(context) {
    const { io, cwd } = cliContext(context);
    const args = context.args;
    let options: Record<string, unknown> = {};
    if (args.config) {
      try {
        options = JSON.parse(fs.readFileSync(path.resolve(cwd, args.config), "utf8")) as Record<
          string,
          unknown
        >;
      } catch (error) {
        const why =
          (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
        throw new BatchpipeError(ErrorCodes.USAGE, `cannot read the emulator config ${args.config}: ${why}`, {
          hint: "Give a JSON file of emulator options (see the emulator's README).",
          cause: error,
        });
      }
    }
    for (const [key, flag] of [
      ["port", "port"],
      ["timeScale", "time-scale"],
      ["seed", "seed"],
    ] as const) {
      const raw = args[flag];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!Number.isFinite(n))
        throw new BatchpipeError(ErrorCodes.USAGE, `--${flag} expects a number, got "${raw}"`);
      options[key] = n;
    }
    if (args.host) options.host = args.host;
    if (args["data-dir"]) options.dataDir = path.resolve(cwd, args["data-dir"]);
    if (args["api-key"]) options.apiKey = args["api-key"];
    // by a name TypeScript does not resolve: the emulator package depends on core (a build-time cycle)
    const emulatorPackage = "@batchpipe/openai-emulator";
    const { createEmulator } = (await import(emulatorPackage)) as {
      createEmulator(options: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }>;
    };
    const emulator = await createEmulator(options).catch((error: unknown) => {
      throw usageError(error, options);
    });
    // listening for the signals before saying so (as view does): a SIGTERM right after the line
    // must close the emulator, not kill the process
    const stopped = new Promise<string>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    io.stdout.write(`batchpipe-emulator listening on ${emulator.url}\n`);
    const signal = await stopped;
    await emulator.close();
    io.stderr.write(`emulator stopped (${signal})\n`);
    return ExitCode.OK;
  },
});

// --- internal ---

/** what createEmulator refused (an option it does not know or a value out of range, a port in use) as a usage error; anything else as it is */
function usageError(error: unknown, options: Record<string, unknown>): unknown {
  // createEmulator throws a TypeError for the options it refuses
  if (error instanceof TypeError)
    return new BatchpipeError(ErrorCodes.USAGE, error.message, {
      hint: "See the emulator's options in its README (packages/openai-emulator) and `batchpipe emulator --help`.",
      cause: error,
    });
  return portInUse(error, options.port, options.host) ?? error;
}
