// The scheduler decides which shard goes next from the queue budget, the creation rate and the cost
// cap. It is pure, so these are in-process specification tests: shards in, decision out.
import { describe, expect, it } from "vitest";
import { Scheduler, type SchedulerOptions, type SchedulerShard } from "../src/engine/scheduler.js";

const MINUTE = 60_000;

function shard(name: string, over: Partial<SchedulerShard> = {}): SchedulerShard {
  return {
    name,
    seq: Number(name.replace(/\D/g, "")) || 0,
    attempt: 1,
    model: "gpt-4o-mini",
    tokens: 100,
    outputTokens: 10,
    requests: 10,
    status: "pending",
    ...over,
  };
}

function scheduler(over: Partial<SchedulerOptions> = {}): Scheduler {
  return new Scheduler({
    queue: { counts: "tokens", per: "model" },
    createsPerHour: null,
    maxEnqueued: null,
    pollInterval: MINUTE,
    maxCost: null,
    shardCost: () => 0,
    ...over,
  });
}

describe("scheduler", () => {
  it("submits the lowest shard first, first attempts before retries of the same shard", () => {
    const s = scheduler();
    const shards = [shard("s3"), shard("s1", { attempt: 2 }), shard("s1"), shard("s2", { status: "open" })];
    expect(s.next(shards, 0, 0)).toEqual({ submit: shards[2] });
  });

  it("keeps a model's queue within max_enqueued tokens, and lets other models go", () => {
    const s = scheduler({ maxEnqueued: 250 });
    const shards = [
      shard("s1", { status: "open", tokens: 200 }),
      shard("s2", { tokens: 100 }),
      shard("s3", { tokens: 100, model: "gpt-4o" }),
    ];
    expect(s.next(shards, 0, 0)).toEqual({ submit: shards[2] });
    shards[2]!.status = "open";
    expect(s.next(shards, 0, 0)).toEqual({ submit: null, blocked: "queue" });
  });

  it("always lets a shard go when nothing of its queue is in flight, even one over the budget", () => {
    const s = scheduler({ maxEnqueued: 50 });
    const shards = [shard("s1", { tokens: 100 })];
    expect(s.next(shards, 0, 0)).toEqual({ submit: shards[0] });
  });

  it("counts requests across the account when the provider's queue does (Anthropic's)", () => {
    const s = scheduler({ queue: { counts: "requests", per: "account" }, maxEnqueued: 15 });
    const shards = [
      shard("s1", { status: "open", requests: 10, model: "a" }),
      shard("s2", { requests: 10, model: "b" }),
    ];
    expect(s.next(shards, 0, 0)).toEqual({ submit: null, blocked: "queue" });
    shards[0]!.status = "collected";
    expect(s.next(shards, 0, 0)).toEqual({ submit: shards[1] });
  });

  it("learns the budget from a refusal and waits for a batch of that queue to end", () => {
    const s = scheduler();
    const shards = [shard("s1", { status: "open", tokens: 300 }), shard("s2", { status: "submitting" })];
    expect(s.refused(shards, shards[1]!, 0)).toEqual({ "gpt-4o-mini": 300 });
    shards[1]!.status = "queued";
    expect(s.budget("gpt-4o-mini")).toBe(300);
    // nothing ended since the refusal: it waits
    expect(s.next(shards, 10 * MINUTE, 0)).toEqual({ submit: null, blocked: "queue" });
    s.ended(shards[0]!);
    shards[0]!.status = "ended";
    expect(s.next(shards, 10 * MINUTE, 0)).toEqual({ submit: shards[1] });
  });

  it("a refused shard with nothing in flight waits a delay that doubles with each refusal", () => {
    const s = scheduler();
    const shards = [shard("s1", { status: "submitting" })];
    s.refused(shards, shards[0]!, 0);
    shards[0]!.status = "queued";
    expect(s.next(shards, 2 * MINUTE - 1, 0).submit).toBeNull();
    expect(s.next(shards, 2 * MINUTE, 0).submit).toBe(shards[0]);
    shards[0]!.status = "submitting";
    s.refused(shards, shards[0]!, 2 * MINUTE);
    shards[0]!.status = "queued";
    expect(s.next(shards, 5 * MINUTE, 0).submit).toBeNull();
    expect(s.next(shards, 6 * MINUTE, 0).submit).toBe(shards[0]);
  });

  it("the wait keeps doubling when the refused shard's batch is created and then failed for the queue (OpenAI)", () => {
    const s = scheduler();
    const shards = [shard("s1", { status: "open" })];
    for (const [i, at] of [0, 2, 6, 14].entries()) {
      // created, then failed for the queue: the wait doubles (2, 4, 8, 16 min), never back to 2
      s.refused(shards, shards[0]!, at * MINUTE);
      shards[0]!.status = "queued";
      const wait = 2 ** (i + 1) * MINUTE;
      expect(s.next(shards, at * MINUTE + wait - 1, 0).submit).toBeNull();
      expect(s.next(shards, at * MINUTE + wait, 0).submit).toBe(shards[0]);
      shards[0]!.status = "open";
    }
    // a batch of it that ended without a refusal: the next refusal starts from the first wait again
    s.accepted(shards[0]!);
    s.refused(shards, shards[0]!, 100 * MINUTE);
    shards[0]!.status = "queued";
    expect(s.next(shards, 102 * MINUTE, 0).submit).toBe(shards[0]);
  });

  it("a shard refused alone never fits: at once over the limit the refusal states, else after 5 refusals in a row", () => {
    const openai =
      "Enqueued token limit reached for gpt-4o-mini in organization org-x. Limit: 1,000 enqueued tokens.";
    const s = scheduler();
    const big = shard("s1", { tokens: 1500, status: "submitting" });
    s.refused([big], big, 0);
    expect(s.neverFits(big, openai)?.code).toBe("QUEUE_TOO_SMALL");
    expect(s.neverFits(big, openai)?.message).toContain("~1,500 tokens");
    // under the stated limit (other work of the organisation fills the queue): it waits, 5 times
    const small = shard("s2", { tokens: 500, status: "submitting" });
    for (let i = 1; i <= 4; i++) {
      s.refused([small], small, i * MINUTE);
      expect(s.neverFits(small, openai)).toBeNull();
    }
    s.refused([small], small, 5 * MINUTE);
    expect(s.neverFits(small, openai)?.message).toContain("refused 5 times in a row");
    // refused while another shard of the run is in flight: only the budget is learnt
    const other = shard("s3", { tokens: 5000, status: "open" });
    const third = shard("s4", { tokens: 1500, status: "submitting" });
    s.refused([other, third], third, 0);
    expect(s.neverFits(third, openai)).toBeNull();
  });

  it("starts from budgets learnt by an earlier process", () => {
    const s = scheduler({ learned: { "gpt-4o-mini": 150 } });
    const shards = [shard("s1", { status: "open", tokens: 100 }), shard("s2", { tokens: 100 })];
    expect(s.next(shards, 0, 0)).toEqual({ submit: null, blocked: "queue" });
  });

  it("holds the creation rate over a sliding hour, counting creations of an earlier process", () => {
    const s = scheduler({ createsPerHour: 2, creations: [0] });
    const shards = [shard("s1"), shard("s2")];
    expect(s.next(shards, 1000, 0).submit).toBe(shards[0]);
    s.created(1000);
    expect(s.next(shards, 2000, 0)).toEqual({ submit: null, blocked: "rate" });
    expect(s.rateOpensAt(2000)).toBe(60 * MINUTE);
    expect(s.next(shards, 60 * MINUTE + 1, 0).submit).toBe(shards[0]);
  });

  it("refuses a shard that would take the run past max_cost, counting spend and batches in flight", () => {
    const s = scheduler({ maxCost: 1, shardCost: (x) => x.tokens / 100 });
    const shards = [shard("s1", { status: "open", tokens: 30 }), shard("s2", { tokens: 30 })];
    expect(s.next(shards, 0, 0.4)).toEqual({ submit: shards[1] });
    expect(s.next(shards, 0, 0.5)).toEqual({ submit: null, blocked: "cost", cost: { projected: 1.1 } });
  });

  it("has nothing to do when nothing waits", () => {
    const s = scheduler();
    expect(s.next([shard("s1", { status: "open" }), shard("s2", { status: "collected" })], 0, 0)).toEqual({
      submit: null,
      blocked: null,
    });
  });
});
