/** Rendering of run events for people: live progress on a TTY, periodic lines otherwise, the final report. */
import {
  displayMessage,
  type EngineEvent,
  type FailureExample,
  failureHint,
  formatMoney,
  type ProgressSnapshot,
  type RunReport,
} from "@batchpipe/core";
import type { CliIo } from "../context.js";
import { withoutCodeNotes } from "../render-error.js";

const ESC = "\u001b[";

export interface ProgressRenderer {
  onEvent(event: EngineEvent): void;
  /** clear the live area before other output */
  clear(): void;
  stop(): void;
}

/** TTY: a redrawn block (at most 4 times a second). Otherwise: a progress line every `plainEveryMs`. */
export function createProgressRenderer(
  io: CliIo,
  options: {
    tty: boolean;
    plainEveryMs?: number;
    /** warnings name the files under it relative to it, as errors do (--json events keep the absolute path) */
    cwd?: string;
  },
): ProgressRenderer {
  const out = io.stderr;
  let drawn = 0;
  let last: ProgressSnapshot | undefined;
  let lastDraw = 0;
  let lastPlain = 0;
  let timer: NodeJS.Timeout | undefined;
  const plainEvery = options.plainEveryMs ?? 5000;

  const clear = () => {
    if (!options.tty || drawn === 0) return;
    out.write(`${ESC}${drawn}A${ESC}0J`);
    drawn = 0;
  };
  const draw = () => {
    timer = undefined;
    if (!last) return;
    lastDraw = Date.now();
    clear();
    const lines = progressLines(last);
    out.write(`${lines.join("\n")}\n`);
    drawn = lines.length;
  };
  const line = (text: string) => {
    clear();
    out.write(`${text}\n`);
    if (options.tty && last) draw();
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case "progress":
          // nothing read yet: "0/0 read so far delivered" says nothing ("reading…" follows)
          if (event.snapshot.reading && event.snapshot.total === 0) return;
          last = event.snapshot;
          if (options.tty) {
            const wait = 250 - (Date.now() - lastDraw);
            if (wait <= 0) draw();
            else timer ??= setTimeout(draw, wait);
          } else if (Date.now() - lastPlain >= plainEvery) {
            lastPlain = Date.now();
            out.write(
              `  ${progressLines(event.snapshot)
                .map((l) => l.trim())
                .join(" | ")}\n`,
            );
          }
          return;
        case "read_progress":
          // the batches' bar shows the records read so far once it is drawn
          if (options.tty && last) return;
          if (options.tty) {
            clear();
            out.write(`  reading… ${plural(event.records, "record")}\n`);
            drawn = 1;
          } else if (Date.now() - lastPlain >= plainEvery) {
            lastPlain = Date.now();
            out.write(`  reading… ${plural(event.records, "record")}\n`);
          }
          return;
        case "run_started":
          line(
            `${event.resumed ? "↻ resuming" : "▶ starting"} run ${event.run} of ${event.name} (state: ${event.stateDir})` +
              (event.readFrom
                ? `\n  reading from record ${fmt(event.readFrom + 1)} (the last read checkpoint)`
                : ""),
          );
          return;
        case "planned":
          line(
            `  read ${plural(event.totals.read, "record")} → ${toSend(event.totals)}` +
              `${event.totals.identical ? ` (${fmt(event.totals.identical)} identical ${event.totals.requests ? "sent once" : "answered once"})` : ""}` +
              `${event.totals.cached ? ` · ${plural(event.totals.cached, "request")} answered from the cache (${cachedSaved(event.totals)})` : ""}` +
              ` · ~${fmt(event.totals.estimatedInputTokens)} input tokens · est. ${money(event.totals.estimatedCost)}`,
          );
          return;
        case "queue_full":
          line(
            `  ⏸ queue full for ${event.queue}: shard ${event.shard} waits (${fmt(event.inFlight)} ${event.unit} in flight)`,
          );
          return;
        case "budget_exceeded":
          line(
            `  ✖ budget: shard ${event.shard} would bring the run to ${money(event.projected)} > max_cost ${money(event.maxCost)}`,
          );
          return;
        case "warning":
          line(
            `  ⚠ ${withoutCodeNotes(options.cwd ? displayMessage(event.message, options.cwd) : event.message)}`,
          );
          return;
        default:
          return;
      }
    },
    clear,
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (options.tty && last) draw();
    },
  };
}

/** the bar: █ delivered, ▓ finished at the provider, ▒ running there, ░ not submitted yet */
function progressLines(s: ProgressSnapshot): string[] {
  const total = Math.max(s.total, 1);
  const width = 30;
  const cells = (n: number) => Math.max(0, Math.min(width, Math.round((width * n) / total)));
  const delivered = cells(s.done);
  const finished = Math.min(width - delivered, cells(s.finished));
  const running = Math.min(width - delivered - finished, cells(s.submitted - s.finished));
  const bar = `${"█".repeat(delivered)}${"▓".repeat(finished)}${"▒".repeat(running)}${"░".repeat(width - delivered - finished - running)}`;
  const pct = s.total > 0 ? Math.floor((100 * s.done) / s.total) : 0;
  const batches = s.shards.open ?? 0;
  const waiting = (s.shards.pending ?? 0) + (s.shards.queued ?? 0);
  const stages = [
    `${fmt(s.done)}/${fmt(s.total)}${s.reading ? " read so far" : ""} delivered`,
    ...(s.finished > 0 ? [`${fmt(s.finished)} finished at the provider`] : []),
    // Anthropic reports only how many requests are processing until a batch ends
    ...(batches > 0
      ? [
          s.inFlight.processing
            ? `${plural(s.inFlight.processing, "request")} processing in ${plural(batches, "batch", "batches")}`
            : `${fmt(s.submitted - s.finished)} running in ${plural(batches, "batch", "batches")}`,
        ]
      : []),
    ...(waiting > 0 ? [`${plural(waiting, "shard")} waiting`] : []),
  ];
  return [
    `  ${bar} ${pct}% · ${stages.join(" · ")}`,
    `  ok ${fmt(s.succeeded)}${cutCounts(s.cutByReason) && ` (${cutCounts(s.cutByReason)})`} · failed ${fmt(s.failed)} · tokens ${fmt(s.inputTokens)} in / ${fmt(s.outputTokens)} out · cost ${spent(s)} · elapsed ${duration(s.elapsedMs)}${s.eta !== null && s.eta > 0 ? ` · ETA ${duration(s.eta)}` : ""}`,
  ];
}

/** "1 batch", "2 batches" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmt(n)} ${n === 1 ? one : many}`;
}

/** an empty source is almost always a wrong path or an empty export, not a success */
export const EMPTY_SOURCE = "the source is empty, nothing was sent (check the source's path)";

export function renderReport(report: RunReport): string {
  if (report.status === "skipped") {
    return `✓ nothing to do: ${fmt(report.read)} records already processed under "${report.name}" (--force runs them again)\n`;
  }
  const codes = Object.entries(report.failedByCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${fmt(n)}`)
    .join(", ");
  const head =
    report.read === 0 && report.status === "completed"
      ? `⚠ run ${report.run} read no records: ${EMPTY_SOURCE}`
      : report.status === "completed"
        ? `✓ run ${report.run} completed: every request succeeded`
        : report.status === "partial" && report.unaccounted !== 0
          ? `⚠ run ${report.run} finished with ${plural(report.unaccounted, "record")} in no sink (neither succeeded nor failed)${report.failed ? ` and ${fmt(report.failed)} failed` : ""}: run again to send them (what succeeded is answered from the result cache)`
          : report.status === "partial"
            ? `⚠ run ${report.run} finished with ${fmt(report.failed)} failed request${report.failed === 1 ? "" : "s"} (in the error sinks)`
            : report.status === "cancelled"
              ? `■ run ${report.run} cancelled`
              : `✓ run ${report.run} skipped`;
  const rows: [string, string][] = [
    ["read", fmt(report.read)],
    ["succeeded", fmt(report.succeeded)],
    ["failed", `${fmt(report.failed)}${codes ? ` (${codes})` : ""}`],
    ["retried", fmt(report.retried)],
    ["identical", `${fmt(report.identical)} (sent once, result fanned back)`],
    [
      "cached",
      report.cached === 0
        ? "0"
        : `${fmt(report.cached)} (answered from the result cache: ${plural(report.cachedRequests, "request")} not sent, ${saved({ cost: report.cachedSaved, unpriced: report.cachedUnpriced, requests: report.cachedRequests })})`,
    ],
    ["unexpected lines", fmt(report.unexpected)],
    ["missing lines", fmt(report.missing)],
    ["unaccounted", fmt(report.unaccounted)],
    [
      "batches",
      `${fmt(report.batches)} (${plural(report.shards, "shard")}, ${plural(report.queueRefusals, "queue refusal")})`,
    ],
    ["tokens", `${fmt(report.inputTokens)} in / ${fmt(report.outputTokens)} out`],
    [
      "cost",
      report.unpriced > 0
        ? `${report.cost > 0 ? `${money(report.cost)} at batch prices, plus` : "unknown:"} ${unpriced(report.unpriced)}`
        : report.answeredLive > 0
          ? `${money(report.cost)}: batch prices, and live prices for ${plural(report.answeredLive, "record")} answered live after batch.deadline (estimated ${money(report.estimatedCost)} at batch prices)`
          : `${money(report.cost)} at batch prices (estimated ${money(report.estimatedCost)})`,
    ],
    ["time", duration(report.durationMs)],
  ];
  return `${head}\n${rows.map(([k, v]) => `  ${k.padEnd(17)}${v}`).join("\n")}\n${cutLines(report)}${failureLines(report)}`;
}

/** how many failure codes the report explains (the most frequent); the rest are in the error sinks */
const CODES_EXPLAINED = 5;

/**
 * Why records failed: the first failure of each code (the most frequent first) and what to do, so a
 * run whose million records all fail one way says why without opening the error sink. A report's or
 * a run's counters (`status`).
 */
export function failureLines(report: {
  failed: number;
  failedByCode: Record<string, number>;
  firstFailures?: Record<string, FailureExample> | undefined;
}): string {
  // a report or a run of an older version has no examples
  const examples = report.firstFailures ?? {};
  const codes = Object.entries(report.failedByCode)
    .filter(([code]) => examples[code] !== undefined)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (codes.length === 0) return "";
  const lines = [`✖ why ${report.failed === 1 ? "it" : "they"} failed (the first record of each code):`];
  for (const [code, n] of codes.slice(0, CODES_EXPLAINED)) {
    const { id, message } = examples[code]!;
    const which = namesRecord(message, id) ? "" : `${id}: `;
    lines.push(`  ${code} (${fmt(n)}): ${which}${clip(message, 300)}`);
    lines.push(`    ${failureHint(code)}`);
  }
  if (codes.length > CODES_EXPLAINED)
    lines.push(`  … and ${plural(codes.length - CODES_EXPLAINED, "other code")}: see the error sinks`);
  return `${lines.join("\n")}\n`;
}

/**
 * whether a failure's message already names its record: a record without an id of its own by its
 * place (`data.jsonl:7`), or an id quoted (`custom_id "x"`). Not any text that holds the id: a
 * record "a" failing with "…produced a request…" still needs its id.
 */
function namesRecord(message: string, id: string): boolean {
  return message.includes(`"${id}"`) || (/:\d+$/.test(id) && message.includes(id));
}

/** one line of at most `max` characters */
function clip(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** answers the model cut short succeeded, but their rows hold partial output: say how many, and the fix */
function cutLines(report: RunReport): string {
  // a report of an older version has no cut counts
  return Object.entries(report.cutByReason ?? {})
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => {
      const answers = `${fmt(n)} of ${plural(report.succeeded, "answer")} ${n === 1 ? "was" : "were"}`;
      const rows = n === 1 ? "its row holds" : "their rows hold";
      if (reason === "max_tokens")
        return `⚠ ${answers} cut short at max_tokens: ${rows} partial output (raise max_tokens, max_completion_tokens or max_output_tokens in the transform's body, and run again)\n`;
      if (reason === "content_filter")
        return `⚠ ${answers} stopped by the provider's content filter: ${rows} partial output or none\n`;
      return `⚠ ${answers} cut short (${reason}): ${rows} partial output\n`;
    })
    .join("");
}

/** "3 cut short at max_tokens, 1 stopped by the content filter" (the report's words), or "" when none was cut (status, watch) */
export function cutCounts(byReason: Record<string, number> | undefined): string {
  return Object.entries(byReason ?? {})
    .filter(([, n]) => n > 0)
    .map(([reason, n]) =>
      reason === "content_filter"
        ? `${fmt(n)} stopped by the content filter`
        : `${fmt(n)} cut short at ${reason}`,
    )
    .join(", ");
}

export function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/** what a run spent: "unknown", or at least its cost, when some requests went to a model without a known price */
export function spent(c: { cost: number; unpriced: number }): string {
  if (!c.unpriced) return money(c.cost);
  return c.cost > 0 ? `≥${money(c.cost)}` : "unknown";
}

/** requests paid for at a price batchpipe does not know, and how to make it known */
export function unpriced(n: number): string {
  return `${plural(n, "request")} to a model without a known price (add it under \`pricing:\` in the spec)`;
}

/** core's formatMoney ("$1.20"; under a cent two significant digits), or why the cost is unknown */
export function money(n: number | null): string {
  if (n === null) return "unknown (a model's price is not known: add it under `pricing:` in the spec)";
  return formatMoney(n);
}

/**
 * what requests answered from the result cache saved: what they cost when paid, unknown for the
 * `unpriced` of them paid at a price batchpipe did not know (not $0: they were paid)
 */
export function saved(c: { cost: number; unpriced: number; requests: number }): string {
  if (!c.unpriced) return `saved ${money(c.cost)}`;
  if (c.unpriced >= c.requests) return "saving unknown: a model without a known price";
  return `saved at least ${money(c.cost)}: ${fmt(c.unpriced)} of them went to a model without a known price`;
}

/**
 * A measured size for people: 1,047,786 → "1023 KB", 5,242,880 → "5.0 MB" (binary multiples, as
 * the spec's sizes). formatBytes is for spec values: it keeps a size exact, so it falls back to bytes.
 */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const [unit, factor] =
    bytes >= 1024 ** 3 ? ["GB", 1024 ** 3] : bytes >= 1024 ** 2 ? ["MB", 1024 ** 2] : ["KB", 1024];
  const value = bytes / factor;
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${unit}`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * what the read leaves to send: its requests and their shards. Shards answered from the result
 * cache count among the shards but send nothing, so with cached requests the shards go unsaid.
 */
function toSend(totals: { requests: number; shards: number; cached?: number }): string {
  if (totals.requests === 0) return "nothing to send";
  if (totals.cached) return `${plural(totals.requests, "request")} to send`;
  return `${plural(totals.requests, "request")} in ${plural(totals.shards, "shard")}`;
}

/** saved() of the read's totals */
export function cachedSaved(totals: {
  cached?: number;
  cachedCost?: number;
  cachedUnpriced?: number;
}): string {
  return saved({
    cost: totals.cachedCost ?? 0,
    unpriced: totals.cachedUnpriced ?? 0,
    requests: totals.cached ?? 0,
  });
}
