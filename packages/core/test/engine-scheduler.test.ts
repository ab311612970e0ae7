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
