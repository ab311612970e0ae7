/**
 * `batchpipe view [spec|folder…]`: a read-only local page of the runs of the pipelines given (or of
 * every pipeline spec under the folder): runs, batches, records, failures, cost. The server and the
 * page are @batchpipe/view; this command finds the specs, loads them and prints the URL.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, loadPipeline, type Pipeline } from "@batchpipe/core";
import { startViewServer } from "@batchpipe/view";
import { defineCommand } from "citty";
import { type CliContext, cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { officialPlugins } from "../official-plugins.js";
import { pipelineArgs } from "./pipeline-args.js";
import { portInUse } from "./port-in-use.js";

export default defineCommand({
  meta: {
    name: "view",
    description: "Open a read-only local page of a pipeline's runs, batches and records",
  },
  args: {
    specs: {
      type: "positional",
      description: "Pipeline files or folders (default: every pipeline spec under the current folder)",
      valueHint: "pipeline.yaml|folder",
      required: false,
    },
    port: { type: "string", description: "Port (default: a free one)" },
    host: {
      type: "string",
      description:
        "Address to listen on (default 127.0.0.1); any other needs the access token printed in the URL",
    },
    open: { type: "boolean", description: "Open the page in the default browser" },
    "state-dir": {
      type: "string",
      valueHint: "folder",
      description: "Where the run state lives (one spec only)",
    },
    "allow-inline-secrets": pipelineArgs["allow-inline-secrets"],
  },
  async run(context) {
    const ctx = cliContext(context);
    const args = context.args;
    const given = (context.args._ as string[]).length > 0 ? (context.args._ as string[]) : ["."];
    const finder = pipelineFinder(ctx, given, args["allow-inline-secrets"] === true);
    const pipelines = await finder.initial();
    if (pipelines.length === 0) {
      throw new BatchpipeError(ErrorCodes.USAGE, `no pipeline spec found in ${given.join(", ")}`, {
        hint: "Name a pipeline file: `batchpipe view pipeline.yaml`.",
      });
    }
    if (args["state-dir"] && pipelines.length > 1) {
      throw new BatchpipeError(ErrorCodes.USAGE, "--state-dir applies to one pipeline; name one spec");
    }
    const port = args.port === undefined ? 0 : Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new BatchpipeError(ErrorCodes.USAGE, `--port expects a port number, got "${args.port}"`);
    }
    const stateDir = args["state-dir"] ? path.resolve(ctx.cwd, args["state-dir"]) : undefined;
    const server = await startViewServer({
      pipelines: pipelines.map((pipeline) => ({ pipeline, stateDir })),
      // specs written into the folders named while the viewer runs are listed too
      discover: async () => (await finder.added()).map((pipeline) => ({ pipeline })),
      host: args.host,
      port,
    }).catch((error: unknown) => {
      throw portInUse(error, port, args.host) ?? error;
    });
    // listening for the signals before saying so: a Ctrl-C (or a test's SIGINT) right after the
    // line must stop the server cleanly, not kill the process
    const stopped = new Promise<string>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    ctx.io.stdout.write(
      `batchpipe view: ${pipelines.map((p) => p.spec.name).join(", ")}\nlistening on ${server.url}\n`,
    );
    if (args.open) openBrowser(server.url);
    const signal = await stopped;
    await server.close();
    ctx.io.stderr.write(`view stopped (${signal})\n`);
    return ExitCode.OK;
  },
});

/**
 * The specs named, and the specs found under the folders named (a YAML file with version, name and
 * source): `initial()` at start; `added()` later, the specs that have appeared under those folders
 * since, or again at a named spec's place (a spec that does not load is tried again once its file
 * changes, and said so once).
 */
function pipelineFinder(ctx: CliContext, given: string[], allowInlineSecrets: boolean) {
  const targets = given.map((arg) => ({ arg, target: path.resolve(ctx.cwd, arg) }));
  /** the spec files listed → their size and mtime when loaded (a spec edited since is loaded again) */
  const known = new Map<string, string>();
  /** spec files that did not load → their size and mtime then */
  const failed = new Map<string, string>();
  const stamp = (file: string) => {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    return stat ? `${stat.size}:${stat.mtimeMs}` : "";
  };
  const tryLoad = async (file: string, out: Pipeline[]) => {
    known.set(file, stamp(file));
    try {
      out.push(await load(ctx, file, allowInlineSecrets));
      failed.delete(file);
    } catch (error) {
      known.delete(file);
      failed.set(file, stamp(file));
      ctx.io.stderr.write(`skipped ${path.relative(ctx.cwd, file)}: ${(error as Error).message}\n`);
    }
  };
  return {
    async initial(): Promise<Pipeline[]> {
      const pipelines: Pipeline[] = [];
      for (const { arg, target } of targets) {
        if (!fs.existsSync(target)) {
          throw new BatchpipeError(ErrorCodes.USAGE, `${arg} does not exist`, {
            hint: "Name a pipeline file or a folder holding pipeline files.",
          });
        }
        if (!fs.statSync(target).isDirectory()) {
          known.set(target, stamp(target));
          pipelines.push(await load(ctx, target, allowInlineSecrets));
          continue;
        }
        for (const file of specFiles(target, 3)) if (!known.has(file)) await tryLoad(file, pipelines);
      }
      return pipelines;
    },
    async added(): Promise<Pipeline[]> {
      const pipelines: Pipeline[] = [];
      // a spec removed (the viewer drops it) is listed again if a file comes back at its place; one
      // edited is loaded again (the viewer shows it as it is now)
      const edited: Pipeline[] = [];
      for (const [file, at] of known) {
        if (!fs.existsSync(file)) known.delete(file);
        else if (stamp(file) !== at && failed.get(file) !== stamp(file)) await tryLoad(file, edited);
      }
      for (const { target } of targets) {
        const stat = fs.statSync(target, { throwIfNoEntry: false });
        if (stat?.isFile()) {
          if (!known.has(target) && failed.get(target) !== stamp(target)) await tryLoad(target, pipelines);
          continue;
        }
        // a folder removed since shows nothing new
        if (!stat?.isDirectory()) continue;
        for (const file of specFiles(target, 3, known)) {
          if (known.has(file) || failed.get(file) === stamp(file)) continue;
          await tryLoad(file, pipelines);
        }
      }
      if (pipelines.length > 0) {
        ctx.io.stderr.write(`batchpipe view: added ${pipelines.map((p) => p.spec.name).join(", ")}\n`);
      }
      if (edited.length > 0) {
        const files = edited.map((p) => path.relative(ctx.cwd, p.file ?? ""));
        ctx.io.stderr.write(`batchpipe view: loaded again (edited) ${files.join(", ")}\n`);
      }
      return [...edited, ...pipelines];
    },
  };
}

function load(ctx: CliContext, file: string, allowInlineSecrets: boolean): Promise<Pipeline> {
  // the view reads the state: the provider's key may be unset
  return loadPipeline(file, { env: ctx.env, builtins: officialPlugins, allowInlineSecrets, keyUnused: true });
}

const SKIP = new Set(["node_modules", ".git", ".batchpipe", "dist"]);

/** the spec files under `dir` (`known`: files listed already, not read again) */
function specFiles(dir: string, depth: number, known?: { has(file: string): boolean }): string[] {
  const out: string[] = [];
  // a folder removed or unreadable (while the viewer looks again) holds no spec
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth > 0 && !SKIP.has(entry.name)) out.push(...specFiles(full, depth - 1, known));
    } else if (/\.ya?ml$/.test(entry.name) && (known?.has(full) || looksLikeSpec(full))) {
      out.push(full);
    }
  }
  return out;
}

function looksLikeSpec(file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return false;
  }
  return /^version:/m.test(text) && /^name:/m.test(text) && /^source:/m.test(text);
}

function openBrowser(url: string): void {
  const command =
    process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  const child = spawn(command, [url], { stdio: "ignore", detached: true });
  child.on("error", () => undefined);
  child.unref();
}
