/**
 * `batchpipe try <pipeline.yaml> [-n 5] [--ids a,b]`: render a few records and send them through the
 * provider's live API, printing each request as sent with its answer, tokens and cost at live
 * prices. Nothing is written: no state, no sinks.
 */

import { BatchpipeError, checkPipeline, ErrorCodes, type TryItem, tryPipeline } from "@batchpipe/core";
import { defineCommand } from "citty";
import { cliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { loadPipelineArg, pipelineArgs } from "./pipeline-args.js";
import { fmt, money, plural } from "./run-output.js";

export default defineCommand({
  meta: {
    name: "try",
    description: "Send a few records through the provider's live API and show the answers (writes nothing)",
  },
  args: {
    ...pipelineArgs,
    number: { type: "string", alias: "n", description: "How many records, from the first (default 5)" },
    ids: { type: "string", description: "Comma-separated custom_ids to send instead of the first records" },
    json: { type: "boolean", description: "Print one JSON object per record" },
  },
  async run(context) {
    const ctx = cliContext(context);
    const { io, env } = ctx;
    const args = context.args;
    const limit = args.number === undefined ? 5 : Number(args.number);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      // thrown, so that --json gets the error event too
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `-n expects a number of records from 1 to 100, got ${args.number}`,
        {
          hint: "Give how many records to send from the first, e.g. -n 5 (or name them with --ids).",
        },
      );
    }
    const ids = args.ids
      ?.split(",")
      .map((id) => id.trim())
      .filter(Boolean);
    const { pipeline } = await loadPipelineArg(ctx, args);
    // a wrong path or a missing key, at its place in the spec, as `run` says it
    checkPipeline(pipeline, { env });
    const { plugin, options } = pipeline.provider;
    // a provider whose batches are not split by endpoint takes none (Anthropic: the Messages API)
    const endpointApplies = plugin.limits(options).batchKey.includes("endpoint");
    const seen = new Set<string>();
    let answered = 0;
    let failed = 0;
    let inputTokens = 0;
    let outputTokens = 0;
    let cost: number | null = 0;
    // Ctrl-C simply ends the process: nothing was written
    for await (const item of tryPipeline(pipeline, { limit, ids, env })) {
      seen.add(item.id);
      if (item.sent && item.result.kind === "success") {
        answered++;
        inputTokens += item.result.usage?.input_tokens ?? 0;
        outputTokens += item.result.usage?.output_tokens ?? 0;
        cost = cost === null || item.cost === null ? null : cost + item.cost;
      } else failed++;
      io.stdout.write(args.json ? `${JSON.stringify(item)}\n` : renderItem(item, endpointApplies));
    }
    const missing = (ids ?? []).filter((id) => !seen.has(id));
    if (missing.length > 0) {
      io.stderr.write(`⚠ no record has the id ${missing.join(", ")}\n`);
    }
    if (!args.json) {
      const total = answered + failed;
      const notFound = missing.length > 0 ? `, ${plural(missing.length, "id")} not found` : "";
      const price =
        cost === null ? "cost unknown (add the model under `pricing:`)" : `${money(cost)} at live prices`;
      io.stdout.write(
        `${plural(total, "record")} tried: ${fmt(answered)} answered, ${fmt(failed)} failed${notFound} · ${fmt(inputTokens)} in / ${fmt(outputTokens)} out tokens · ${price}\n` +
          `nothing was written (no run state, no sinks); \`${ctx.cli} plan\` shows the batch cost of the whole dataset\n`,
      );
    }
    // an id no record has is not an answer either: exit 3, as for a failed record
    return failed + missing.length > 0 ? ExitCode.FAILED_REQUESTS : ExitCode.OK;
  },
});

function renderItem(item: TryItem, endpointApplies: boolean): string {
  const head = `── ${item.id} (${item.source.file.split("/").pop()}:${item.source.line}) `;
  const lines = [head.padEnd(72, "─")];
  if (!item.sent) {
    lines.push(`not sent: ${item.error.message} (${item.error.code})`, "");
    return `${lines.join("\n")}\n`;
  }
  const shown = { shortened: false };
  const to = endpointApplies
    ? `POST ${item.request.url}`
    : "to the provider's live API (the transform's endpoint does not apply)";
  lines.push(`request  ${to}`, indent(compactJson(shorten(item.request.body, shown))));
  const r = item.result;
  if (r.kind === "failure") {
    lines.push(`answer   ✖ ${r.error.message} (${r.error.code}${r.retryable ? ", retryable" : ""})`);
    return `${[...lines, ...shortenedNote(shown), ""].join("\n")}\n`;
  }
  const usage = r.usage
    ? ` · ${fmt(r.usage.input_tokens)} in / ${fmt(r.usage.output_tokens)} out tokens`
    : "";
  const price = item.cost === null ? " · cost unknown" : ` · ${money(item.cost)}`;
  lines.push(`answer   ✔ ${item.ms} ms${usage}${price}`);
  const out = item.output;
  if (out?.ok) {
    const output = shorten(out.output, shown);
    lines.push(indent(typeof output === "string" ? output : compactJson(output)));
  } else if (out) lines.push(`  ✖ ${out.message} (invalid_json_output)`);
  if (out?.ok && out.cut === "max_tokens")
    lines.push(
      "  ⚠ cut short at max_tokens: the output above is partial (raise max_tokens in the transform's body)",
    );
  else if (out?.ok && out.cut === "content_filter")
    lines.push("  ⚠ stopped by the provider's content filter: the output above is partial");
  return `${[...lines, ...shortenedNote(shown), ""].join("\n")}\n`;
}

/** longer texts and lists are cut in what is printed (a record of megabytes is not dumped whole) */
const SHOWN_CHARS = 2000;
const SHOWN_ITEMS = 20;

/** `value` with its long strings and arrays cut for display; `shown.shortened` says if any was */
function shorten(value: unknown, shown: { shortened: boolean }): unknown {
  if (typeof value === "string") {
    if (value.length <= SHOWN_CHARS) return value;
    shown.shortened = true;
    return `${value.slice(0, SHOWN_CHARS)}… [${fmt(value.length - SHOWN_CHARS)} more characters]`;
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, SHOWN_ITEMS).map((v) => shorten(v, shown));
    if (value.length <= SHOWN_ITEMS) return items;
    shown.shortened = true;
    return [...items, `… [${fmt(value.length - SHOWN_ITEMS)} more items]`];
  }
  if (value !== null && typeof value === "object") {
    // fromEntries: a "__proto__" key stays a key
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v, shown)]));
  }
  return value;
}

function shortenedNote(shown: { shortened: boolean }): string[] {
  return shown.shortened ? ["  (long values are cut here; `--json` prints them whole)"] : [];
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

/** JSON with objects and arrays kept on one line when they fit in 96 columns (`used`: columns taken before it) */
function compactJson(value: unknown, pad = "", used = pad.length): string {
  const flat = JSON.stringify(value) ?? "null";
  if (used + flat.length <= 96 || value === null || typeof value !== "object") return flat;
  const inner = `${pad}  `;
  const items = Array.isArray(value)
    ? value.map((v) => `${inner}${compactJson(v, inner)}`)
    : Object.entries(value).map(([k, v]) => {
        const key = `${inner}${JSON.stringify(k)}: `;
        return `${key}${compactJson(v, inner, key.length)}`;
      });
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return `${open}\n${items.join(",\n")}\n${pad}${close}`;
}
