/**
 * Which shard to submit next: the provider's queue budget (tokens per model, or requests across the
 * account), its creation rate, and the run's cost cap. Pure: it sees shards and the clock, does no
 * I/O, and its memory (budgets learnt from refusals, who waits for what) is plain data the run loop
 * persists.
 */
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { type ModelPrice, priceFor } from "../estimate/pricing.js";
import { formatMoney } from "../format-money.js";
import type { ProviderLimits } from "../provider/contract.js";

/** What the scheduler needs of a shard. */
export interface SchedulerShard {
  name: string;
  seq: number;
  attempt: number;
  model: string;
  /** estimated input tokens and output tokens */
  tokens: number;
  outputTokens: number;
  requests: number;
  status: string;
}

export interface SchedulerOptions {
  queue: ProviderLimits["queue"];
  createsPerHour: number | null;
  /** the spec's cap on the queue (in the queue's unit); null = none */
  maxEnqueued: number | null;
  /** ms; how long a refused shard waits, doubled per refusal, when nothing of its queue is in flight */
  pollInterval: number;
  /** USD; null = no cap */
  maxCost: number | null;
  /** estimated cost of a shard (USD), 0 when unknown */
  shardCost(shard: SchedulerShard): number;
  /** budgets learnt from earlier refusals, by queue key */
  learned?: Record<string, number>;
  /** creation times (ms) in the last hour */
  creations?: number[];
}

export type Decision =
  | { submit: SchedulerShard }
  /** nothing may be submitted now; `blocked` names why when a shard is waiting */
  | { submit: null; blocked: "queue" | "rate" | "cost" | null; cost?: { projected: number } };

const HOUR = 3_600_000;
/** refusals in a row, with nothing else of the run in the queue, after which a shard never fits */
const NEVER_FITS_AFTER = 5;
/** statuses whose work sits in the provider's queue */
const IN_FLIGHT = new Set(["open", "submitting"]);
/** statuses of shards that may be submitted */
const WAITING = new Set(["pending", "queued"]);

export class Scheduler {
  private readonly learned: Map<string, number>;
  private readonly creations: number[];
  /** per queue key: batches ended so far (a refused shard waits for the next one) */
  private readonly endedByKey = new Map<string, number>();
  private readonly refusedAt = new Map<string, { ended: number; at: number; waits: number; alone: number }>();

  constructor(private readonly options: SchedulerOptions) {
    this.learned = new Map(Object.entries(options.learned ?? {}));
    this.creations = [...(options.creations ?? [])].sort((a, b) => a - b);
  }

  /** what the provider's queue counts */
  get unit(): "tokens" | "requests" {
    return this.options.queue.counts;
  }

  /** the queue a shard's work counts against */
  queueKey(shard: Pick<SchedulerShard, "model">): string {
    return this.options.queue.per === "model" ? shard.model : "*";
  }

  /** the queue a shard's work counts against, in words */
  queueName(shard: Pick<SchedulerShard, "model">): string {
    return this.options.queue.per === "model" ? shard.model : "the account";
  }

  /** what a shard takes of its queue */
  size(shard: SchedulerShard): number {
    return this.options.queue.counts === "tokens" ? shard.tokens : shard.requests;
  }

  budget(key: string): number {
    const configured = this.options.maxEnqueued ?? Number.POSITIVE_INFINITY;
    return Math.min(configured, this.learned.get(key) ?? Number.POSITIVE_INFINITY);
  }

  inFlight(shards: Iterable<SchedulerShard>, key: string, except?: string): number {
    let total = 0;
    for (const s of shards)
      if (IN_FLIGHT.has(s.status) && s.name !== except && this.queueKey(s) === key) total += this.size(s);
    return total;
  }

  /** The next shard to submit (lowest seq, then attempt) or why none can go now. */
  next(shards: readonly SchedulerShard[], now: number, spent: number): Decision {
    const waiting = shards
      .filter((s) => WAITING.has(s.status))
      .sort((a, b) => a.seq - b.seq || a.attempt - b.attempt);
    let blocked: "queue" | null = null;
    for (const shard of waiting) {
      if (!this.queueAllows(shards, shard, now)) {
        blocked = "queue";
        continue;
      }
      if (!this.rateAllows(now)) return { submit: null, blocked: "rate" };
      const projected = this.projectedCost(shards, shard, spent);
      if (this.options.maxCost !== null && projected > this.options.maxCost)
        return { submit: null, blocked: "cost", cost: { projected } };
      return { submit: shard };
    }
    return { submit: null, blocked };
  }

  /** a batch was created at `now` */
  created(now: number): void {
    this.creations.push(now);
  }

  /**
   * a shard's batch ended without a queue refusal: it is no longer waiting for the queue. (Not at
   * creation: OpenAI creates a batch and fails it for the queue afterwards, and the shard's wait must
   * keep growing across such refusals.)
   */
  accepted(shard: Pick<SchedulerShard, "name">): void {
    this.refusedAt.delete(shard.name);
  }

  /**
   * The provider's queue refused the shard: what was in flight then is the budget (learnt), and the
   * shard waits for a batch of its queue to end. Returns the learnt budgets (for the run to persist).
   */
  refused(shards: readonly SchedulerShard[], shard: SchedulerShard, now: number): Record<string, number> {
    const key = this.queueKey(shard);
    const inFlight = this.inFlight(shards, key, shard.name);
    if (inFlight > 0) this.learned.set(key, Math.min(this.budget(key), inFlight));
    const previous = this.refusedAt.get(shard.name);
    this.refusedAt.set(shard.name, {
      ended: this.endedByKey.get(key) ?? 0,
      at: now,
      waits: (previous?.waits ?? 0) + 1,
      // refusals in a row with nothing else of the run in its queue
      alone: inFlight === 0 ? (previous?.alone ?? 0) + 1 : 0,
    });
    return Object.fromEntries(this.learned);
  }

  /**
   * A shard the queue can never take: refused with nothing else of the run in its queue, and either
   * bigger than the limit the provider's refusal states, or refused so NEVER_FITS_AFTER times in a
   * row (each after a longer wait). Waiting cannot help: the run stops and says how to shrink shards.
   */
  neverFits(shard: SchedulerShard, message: string): BatchpipeError | null {
    const refused = this.refusedAt.get(shard.name);
    if (!refused || refused.alone === 0) return null;
    const stated = statedLimit(message);
    const size = this.size(shard);
    const over = stated !== null && size > stated;
    if (!over && refused.alone < NEVER_FITS_AFTER) return null;
    const unit = this.unit;
    const queue = `the queue of ${this.queueName(shard)}`;
    const fmt = (n: number) => n.toLocaleString("en-US");
    // a token estimate at the limit may be over it in the provider's own count (never exact)
    const atLimit = unit === "tokens" && stated !== null && !over && size >= stated * HEADROOM;
    let allows = over
      ? `the provider allows ${fmt(stated)} enqueued ${unit}`
      : `it was refused ${refused.alone} times in a row, each after a longer wait`;
    if (atLimit)
      allows += `, at ~${fmt(size)} of the ${fmt(stated)} enqueued tokens it allows: the provider counts a shard's tokens its own way, which can come to more than batchpipe's estimate`;
    const knob =
      unit === "tokens"
        ? "batch.max_enqueued_tokens (or batch.max_requests)"
        : "batch.max_requests (or the provider's max_enqueued_requests)";
    let below = "";
    if (stated !== null && (over || atLimit)) {
      below = ` below ${fmt(stated)}`;
      if (unit === "tokens")
        below += ` (e.g. ${fmt(Math.floor(stated * HEADROOM))}, leaving room for that count)`;
    }
    return new BatchpipeError(
      ErrorCodes.QUEUE_TOO_SMALL,
      `shard ${shard.name} (~${size.toLocaleString("en-US")} ${unit}) can never fit ${queue}: the provider refused it with nothing else of this run in flight, and ${allows}. Provider: ${message}`,
      {
        hint: `Set ${knob}${below} so shards are sealed smaller, then \`batchpipe cancel\` (from code: cancelRun) this run and run again: requests that succeeded are answered from the result cache. (If other work of your organisation fills the queue, run again later: the run resumes.)`,
      },
    );
  }

  /** a batch ended: its queue has room again */
  ended(shard: Pick<SchedulerShard, "model">): void {
    const key = this.queueKey(shard);
    this.endedByKey.set(key, (this.endedByKey.get(key) ?? 0) + 1);
  }

  /** when the creation rate allows the next batch (ms), or `now` */
  rateOpensAt(now: number): number {
    if (this.rateAllows(now)) return now;
    return (this.creations[0] ?? now) + HOUR;
  }

  private queueAllows(shards: readonly SchedulerShard[], shard: SchedulerShard, now: number): boolean {
    const key = this.queueKey(shard);
    const inFlight = this.inFlight(shards, key);
    const refused = this.refusedAt.get(shard.name);
    if (refused) {
      const ended = this.endedByKey.get(key) ?? 0;
      // wait for a batch of this queue to end; with none in flight, wait a growing delay instead
      const delay = this.options.pollInterval * Math.min(2 ** refused.waits, 64);
      if (ended <= refused.ended && !(inFlight === 0 && now >= refused.at + delay)) return false;
    }
    if (inFlight === 0) return true;
    return inFlight + this.size(shard) <= this.budget(key);
  }

  private rateAllows(now: number): boolean {
    const limit = this.options.createsPerHour;
    if (limit === null) return true;
    while (this.creations.length > 0 && this.creations[0]! < now - HOUR) this.creations.shift();
    return this.creations.length < limit;
  }

  private projectedCost(shards: readonly SchedulerShard[], shard: SchedulerShard, spent: number): number {
    if (this.options.maxCost === null) return 0;
    return projectedSpend(spent + this.options.shardCost(shard), shards, this.options.shardCost);
  }
}

/**
 * What the run will have spent once `next` (spent so far plus the shard about to go, batch or
 * live) and every shard whose batch is open or ended but not yet collected are paid: what
 * batch.max_cost is checked against.
 */
export function projectedSpend<S extends { status: string }>(
  next: number,
  shards: Iterable<S>,
  costOf: (shard: S) => number,
): number {
  let projected = next;
  for (const s of shards) if (s.status === "open" || s.status === "ended") projected += costOf(s);
  return projected;
}

/**
 * The share of a stated token limit that shards are advised to stay within: the provider counts a
 * request's tokens its own way (the emulator's count runs ~5% above batchpipe's estimate for short
 * chat requests), so a shard estimated just under the limit can be over it there.
 */
const HEADROOM = 0.9;

/**
 * The limit a queue refusal states, e.g. OpenAI's "Limit: 2,000,000 enqueued tokens" or Anthropic's
 * "your organization's limit of 100,000 (…)"; null when it states none.
 */
export function statedLimit(message: string): number | null {
  const match = /\blimit(?: of|:)\s*([\d,]+)/i.exec(message);
  if (!match) return null;
  const value = Number(match[1]!.replaceAll(",", ""));
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** the run stops: the next batch would pass batch.max_cost */
export function budgetExceeded(maxCost: number | null, spent: number): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.BUDGET_EXCEEDED,
    `the next batch would take the run past batch.max_cost (${maxCost === null ? "unset" : formatMoney(maxCost)}); spent so far ${formatMoney(spent)}`,
    { hint: "Raise batch.max_cost and run again: the run resumes where it stopped." },
  );
}

/**
 * Before the first submission, the whole run's estimate against `batch.max_cost`: a run that would
 * pass it, or whose cost cannot be known (a model without a price), is refused before anything is
 * paid. Once submitting, `next` checks each batch against the actual spend.
 */
export function costCapRefusal(o: {
  maxCost: number | null;
  estimatedCost: number | null;
  /** the models of the run's shards ("" for shards that mix models) */
  models: readonly string[];
  prices: Readonly<Record<string, ModelPrice>>;
}): BatchpipeError | null {
  if (o.maxCost === null) return null;
  if (o.estimatedCost === null) {
    const unknown = [...new Set(o.models)].filter((m) => m !== "" && priceFor(m, o.prices) === null);
    const which = unknown.length > 0 ? unknown.join(", ") : "a model of the run";
    const example = unknown[0] ?? "my-model";
    return new BatchpipeError(
      ErrorCodes.BUDGET_EXCEEDED,
      `batch.max_cost is set but the price of ${which} is unknown, so the run's cost cannot be capped; nothing was submitted`,
      {
        hint: `Add its list prices (USD per 1M tokens) to the spec: pricing: { "${example}": { input: 0.5, output: 1.5 } }, or remove batch.max_cost.`,
      },
    );
  }
  if (o.estimatedCost <= o.maxCost) return null;
  return new BatchpipeError(
    ErrorCodes.BUDGET_EXCEEDED,
    `the run's estimated cost ${formatMoney(o.estimatedCost)} is above batch.max_cost (${formatMoney(o.maxCost)}); nothing was submitted`,
    {
      hint: "Raise batch.max_cost or shrink the dataset, then run again: the read is kept and the run resumes.",
    },
  );
}
