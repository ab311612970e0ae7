/**
 * A toy provider that answers every request locally, without a network: the example of a provider
 * plugin (see ProviderConnection in @batchpipe/core/plugin). Run it with ../echo.yaml.
 *
 * A batch is two files in `dir`, named by its submission tag: a copy of the shard and a small state
 * file. The tag in the name is how find() recognises a batch after a crash, the way OpenAI's
 * provider uses batch metadata. A batch "runs" for `polls` polls, then answers each request with
 * the text of its last message, echoed.
 */
import { createReadStream } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  BatchpipeError,
  type BatchRef,
  type BatchSnapshot,
  defineProvider,
  type ResultItem,
  type SubmissionTag,
  tagKey,
  z,
} from "@batchpipe/core/plugin";

/** what the state file holds */
interface EchoState {
  id: string;
  requests: number;
  createdAt: number;
  polls: number;
  cancelled: boolean;
}

export default defineProvider({
  name: "echo",
  options: z.strictObject({
    dir: z.string().min(1).default(".echo-provider").meta({
      description: "Where batches are kept, relative to the spec file.",
    }),
    polls: z.int().min(0).max(100).default(2).meta({ description: "Polls before a batch ends." }),
  }),

  // no model or endpoint rule, no token queue: one queue of requests for everything
  limits: () => ({
    maxRequests: 1000,
    maxBytes: 10 * 1024 * 1024,
    batchKey: [],
    queue: { counts: "requests", per: "account" },
    createsPerHour: null,
  }),

  encode: (request) => ({
    line: JSON.stringify({ id: request.custom_id, url: request.url, body: request.body }),
    model: typeof request.body.model === "string" ? request.body.model : "",
    json: false,
  }),

  output: (response) => ({ ok: true, output: response.echo }),

  async open({ options, resolvePath }) {
    const root = resolvePath(options.dir);
    const files = (name: string) => ({
      state: join(root, `${name}.json`),
      shard: join(root, `${name}.jsonl`),
    });

    async function load(name: string): Promise<EchoState | null> {
      try {
        return JSON.parse(await readFile(files(name).state, "utf8")) as EchoState;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    }

    /** write-then-rename: a state file is whole or absent, so a crash never leaves half a batch */
    async function save(name: string, state: EchoState): Promise<void> {
      await writeFile(`${files(name).state}.tmp`, JSON.stringify(state));
      await rename(`${files(name).state}.tmp`, files(name).state);
    }

    function snapshot(name: string, state: EchoState): BatchSnapshot {
      const ended = state.cancelled || state.polls >= options.polls;
      const ending = !ended ? null : state.cancelled ? "cancelled" : "completed";
      return {
        id: state.id,
        data: { name },
        state: ended ? "ended" : "running",
        status: ending ?? "running",
        ending,
        queueFull: null,
        counts: { total: state.requests, completed: ending === "completed" ? state.requests : 0, failed: 0 },
        errors: [],
        createdAt: state.createdAt,
        expiresAt: null,
      };
    }

    return {
      async submit(shard) {
        const name = nameOf(shard.tag);
        await mkdir(root, { recursive: true });
        // the copy first: the state file is what makes the batch exist
        await copyFile(shard.file, files(name).shard);
        const state = {
          id: `echo_${name}`,
          requests: shard.requests,
          createdAt: Date.now(),
          polls: 0,
          cancelled: false,
        };
        await save(name, state);
        return { batch: snapshot(name, state) };
      },

      async find(tags, { since }) {
        const found = new Map<string, BatchSnapshot>();
        for (const tag of tags) {
          const state = await load(nameOf(tag));
          if (state && state.createdAt >= since) found.set(tagKey(tag), snapshot(nameOf(tag), state));
        }
        return found;
      },

      async poll(batch) {
        const name = nameIn(batch);
        const state = await load(name);
        if (!state) return null;
        state.polls++;
        await save(name, state);
        return snapshot(name, state);
      },

      async *results(batch) {
        const name = nameIn(batch);
        const cancelled = batch.ending === "cancelled";
        const lines = createInterface({
          input: createReadStream(files(name).shard),
          crlfDelay: Number.POSITIVE_INFINITY,
        });
        for await (const line of lines) if (line !== "") yield answer(line, cancelled);
      },

      async cancel(batch) {
        const name = nameIn(batch);
        const state = await load(name);
        if (!state || snapshot(name, state).state === "ended") return;
        state.cancelled = true;
        await save(name, state);
      },

      async cleanUp({ batch }) {
        if (!batch) return;
        const name = nameIn(batch);
        await rm(files(name).state, { force: true });
        await rm(files(name).shard, { force: true });
      },

      async close() {},
    };
  },
});

/** a file name for a tag: its parts, each made safe */
function nameOf(tag: SubmissionTag): string {
  return [tag.pipeline, tag.run, tag.shard, String(tag.submission)].map(encodeURIComponent).join("~");
}

function nameIn(batch: BatchRef): string {
  const data = batch.data as { name?: unknown } | null;
  if (typeof data?.name !== "string") {
    throw new BatchpipeError("PROVIDER_FAILED", `batch ${batch.id} carries no echo file name`);
  }
  return data.name;
}

function answer(line: string, cancelled: boolean): ResultItem {
  let request: { id: string; body: Record<string, unknown> };
  try {
    request = JSON.parse(line);
  } catch {
    return { kind: "unreadable", reason: `a shard line that is not JSON: ${line.slice(0, 40)}` };
  }
  if (cancelled) {
    const error = { code: "batch_cancelled", message: "cancelled before it ran", status_code: null };
    return { kind: "failure", id: request.id, error, retryable: true };
  }
  const messages = Array.isArray(request.body.messages) ? request.body.messages : [];
  const last = messages.at(-1) as { content?: unknown } | undefined;
  const echo = typeof last?.content === "string" ? last.content : JSON.stringify(request.body);
  const words = echo.split(/\s+/).filter(Boolean).length;
  const model = typeof request.body.model === "string" ? request.body.model : null;
  return {
    kind: "success",
    id: request.id,
    response: { model, echo },
    usage: { input_tokens: words, output_tokens: words, total_tokens: 2 * words },
    model,
  };
}
