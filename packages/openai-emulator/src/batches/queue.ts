import type { BatchError } from "./types.js";
import type { ScanResult } from "./validate.js";

export interface QueueOccupancy {
  enqueued_tokens: number;
  limit: number | null;
  enqueued_requests: number;
}

export interface QueueDemand {
  model: string;
  tokens: number;
  requests: number;
}

export interface QueueLimits {
  tokenLimit: number | undefined;
  requestLimit: number | undefined;
}

const ORG = "org-emulator";

/** The organisation-wide enqueued-token (and embedding enqueued-request) queue, per model. */
export class EnqueuedQueue {
  private readonly usage = new Map<string, { tokens: number; requests: number }>();

  /**
   * The batch error OpenAI reports when `tokens`/`requests` more would overflow the model's queue, or null.
   * With `reserve`, a fitting demand is added to the queue.
   */
  admit(demand: QueueDemand, limits: QueueLimits, reserve: boolean): BatchError | null {
    const { model, tokens, requests } = demand;
    const current = this.usage.get(model) ?? { tokens: 0, requests: 0 };
    if (limits.tokenLimit !== undefined && current.tokens + tokens > limits.tokenLimit) {
      return limitError("token", model, limits.tokenLimit);
    }
    if (limits.requestLimit !== undefined && current.requests + requests > limits.requestLimit) {
      return limitError("request", model, limits.requestLimit);
    }
    if (reserve)
      this.usage.set(model, { tokens: current.tokens + tokens, requests: current.requests + requests });
    return null;
  }

  release({ model, tokens, requests }: QueueDemand): void {
    const current = this.usage.get(model);
    if (!current) return;
    current.tokens = Math.max(0, current.tokens - tokens);
    current.requests = Math.max(0, current.requests - requests);
  }

  snapshot(limits: Record<string, number>): Record<string, QueueOccupancy> {
    const out: Record<string, QueueOccupancy> = {};
    const models = new Set([...this.usage.keys(), ...Object.keys(limits)]);
    for (const model of models) {
      const current = this.usage.get(model) ?? { tokens: 0, requests: 0 };
      out[model] = {
        enqueued_tokens: current.tokens,
        limit: limits[model] ?? null,
        enqueued_requests: current.requests,
      };
    }
    return out;
  }

  clear(): void {
    this.usage.clear();
  }
}

/** OpenAI's queue refusal, e.g. "Enqueued token limit reached for gpt-4o-mini in organization …". */
function limitError(kind: "token" | "request", model: string, limit: number): BatchError {
  return {
    code: `${kind}_limit_exceeded`,
    line: null,
    param: null,
    message: `Enqueued ${kind} limit reached for ${model} in organization ${ORG}. Limit: ${formatCount(limit)} enqueued ${kind}s. Please try again once some in_progress batches have been completed.`,
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** what a scanned batch takes in its model's queue: tokens, and requests for embeddings */
export function demandOf(endpoint: string, scan: ScanResult): QueueDemand {
  return {
    model: scan.model ?? "unknown",
    tokens: scan.tokens,
    requests: endpoint === "/v1/embeddings" ? scan.lines : 0,
  };
}
