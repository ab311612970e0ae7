#!/usr/bin/env node
import fs from "node:fs";
import { parseArgs } from "node:util";
import { createEmulator, type EmulatorOptions } from "./index.js";

const USAGE = `Usage: batchpipe-emulator [--port N] [--host H] [--time-scale X] [--seed S] [--config file.json] [--data-dir DIR] [--api-key KEY]

Starts the emulator: OpenAI's Files + Batches API under /v1 and Anthropic's Message Batches under
/v1/messages, on one port. The config file holds EmulatorOptions as JSON; flags override it.`;

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (error) {
    console.error(`batchpipe-emulator: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  let options: EmulatorOptions = {};
  if (args.config) {
    try {
      options = JSON.parse(fs.readFileSync(args.config, "utf8")) as EmulatorOptions;
    } catch (error) {
      console.error(`batchpipe-emulator: cannot read config ${args.config}: ${(error as Error).message}`);
      return 2;
    }
  }
  const number = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`--${name} expects a number, got '${raw}'`);
    return n;
  };
  try {
    const overrides: EmulatorOptions = {
      port: number("port", args.port),
      timeScale: number("time-scale", args["time-scale"]),
      seed: number("seed", args.seed),
      host: args.host,
      dataDir: args["data-dir"],
      apiKey: args["api-key"],
    };
    for (const [k, v] of Object.entries(overrides)) {
      if (v !== undefined) (options as Record<string, unknown>)[k] = v;
    }
  } catch (error) {
    console.error(`batchpipe-emulator: ${(error as Error).message}`);
    return 2;
  }
  const emulator = await createEmulator(options);
  console.log(`batchpipe-emulator listening on ${emulator.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await emulator.close();
  return 0;
}

function parse() {
  return parseArgs({
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      "time-scale": { type: "string" },
      seed: { type: "string" },
      config: { type: "string", short: "c" },
      "data-dir": { type: "string" },
      "api-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }).values;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // option errors (TypeError from createEmulator) are the user's to fix: the message is enough
    const e = error as Error;
    console.error(`batchpipe-emulator: ${e instanceof TypeError ? e.message : (e.stack ?? String(e))}`);
    process.exitCode = 1;
  },
);
