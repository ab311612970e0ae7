/**
 * The read's check of each request against its model's context window and output limit
 * (estimate/limits.ts, the spec's model_limits:): a request that cannot fit fails as a record before
 * it is sent; one that may not (its input is an estimate) is sent, counted, and its id kept for
 * `plan`. Models the table does not know are not checked.
 */
import { checkLimits, type LimitProblem, limitsLookup, limitsTableFor } from "../../estimate/limits.js";
import type { PipelineSpec } from "../../spec/schema.js";
import { fmt } from "./read-errors.js";

export interface MayNotFit {
  count: number;
  /** the first few ids, and why */
  first: { id: string; message: string }[];
}

export interface LimitsCheck {
  /** the problem that fails the request (not sent), or undefined (a request that may not fit is counted) */
  failure(
    id: string,
    model: string,
    inputTokens: number,
    body: Record<string, unknown>,
  ): LimitProblem | undefined;
  /** requests sent though they may not fit, so far */
  readonly mayNotFit: MayNotFit;
  /** the read's warning about them, if any */
  warning(): string | undefined;
}

export function createLimitsCheck(modelLimits: PipelineSpec["model_limits"]): LimitsCheck {
  const limitsOf = limitsLookup(limitsTableFor(modelLimits));
  const mayNotFit: MayNotFit = { count: 0, first: [] };
  return {
    mayNotFit,
    failure(id, model, inputTokens, body) {
      const limits = limitsOf(model);
      const problem = limits && checkLimits(model, limits, { inputTokens, body });
      if (!problem) return undefined;
      if (problem.fail) return problem;
      if (mayNotFit.count++ < MAY_NOT_FIT_SHOWN) mayNotFit.first.push({ id, message: problem.message });
      return undefined;
    },
    warning() {
      const { count, first } = mayNotFit;
      if (count === 0) return undefined;
      return `${count === 1 ? "1 request" : `${fmt(count)} requests`} may not fit the model's context window (the input is an estimate; sent anyway), e.g. ${first[0]!.id}: ${first[0]!.message}`;
    },
  };
}

/** the ids of requests that may not fit their model kept for `plan` to show */
const MAY_NOT_FIT_SHOWN = 5;
