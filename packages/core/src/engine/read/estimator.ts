/**
 * Token estimates of the read phase (shard token budgets, the plan's cost). Exact counts with the
 * model's tokenizer are slow, so a model's first requests are counted both exactly and fast, and
 * the rest get the fast count scaled by the ratio those showed. The calibration is part of a read
 * checkpoint: a resumed read estimates as an uninterrupted one.
 *
 * The tokenizer tables (~15 MB of heap for o200k_base) are held only while a calibration is under
 * way: since submission streams, the read runs beside the collection, and tables kept to the end
 * of the read added to the run's peak memory. A model first seen after that builds them again.
 */
import {
  addKindSample,
  emptyKindStats,
  type KindStats,
  kindFactors,
  scaleKinds,
} from "../../estimate/calibration.js";
import { encodingForModel, holdEncodings, loadEncoding } from "../../estimate/encoding.js";
import { type EstimateMode, estimateRequestTokenKinds } from "../../estimate/estimate-tokens.js";
import { estimateRequestTokens } from "../../estimate/index.js";
import type { RequestLine } from "../../plugin.js";

/** the calibration, kept by read checkpoints */
export interface EstimatorState {
  calibration: [string, Calibration][];
  /** time spent on exact counts so far */
  exactMs: number;
  /** fast-count tokens of the requests counted exactly so far (absent in checkpoints before it) */
  exactTokens?: number;
}

export interface TokenEstimator {
  /** estimated input tokens of a request */
  estimate(model: string, request: RequestLine): number;
  state(): EstimatorState;
  /** let go of the tokenizer tables (the read is over) */
  close(): void;
}

/**
 * a model's sample: its requests' exact and fast text tokens, and the fit by kind of text
 * (estimate/calibration.ts; absent in checkpoints before it: one factor for all text then)
 */
interface Calibration {
  exact: number;
  fast: number;
  n: number;
  kinds?: KindStats;
}

/** `mode`: always that estimate (no calibration); `restored`: continue a checkpointed calibration */
export function createEstimator(mode: EstimateMode | undefined, restored?: EstimatorState): TokenEstimator {
  const calibration = new Map<string, Calibration>(
    restored?.calibration.map(([model, c]) => [model, copy(c)]) ?? [],
  );
  /** each model's factors by kind, and the sample size they were fitted on */
  const fitted = new Map<string, { n: number; factors: Float64Array }>();
  let exactMs = restored?.exactMs ?? 0;
  let exactTokens = restored?.exactTokens ?? 0;
  /** lets go of the tokenizer tables; set while they are held */
  let release = mode === "exact" ? holdEncodings() : undefined;
  const letGo = () => {
    release?.();
    release = undefined;
  };
  const estimate = (model: string, request: RequestLine) => {
    if (mode) return estimateRequestTokens(request, { mode });
    let c = calibration.get(model);
    if (!c) {
      c = { exact: 0, fast: 0, n: 0, kinds: emptyKindStats() };
      calibration.set(model, c);
    }
    // media tokens come from headers, the same in both counts: only the text is calibrated, else a
    // text-only sample scaled later images down (by ~13 %) and a sample of images held text at 1×;
    // and each kind of text by its own factor (Thai after a sample of English came out ~20 % under)
    const { total: fast, media, kinds } = estimateRequestTokenKinds(request);
    let text = 0;
    for (let k = 0; k < kinds.length; k++) text += kinds[k]!;
    /** what is not scaled: media, the chat framing, rounding */
    const rest = fast - text;
    // BPE is quadratic in a long run without spaces (a base64 blob, a 50 MB line): calibrate on
    // small requests only, within a budget of tokens (the same sample however busy the machine is)
    // and, for text that is slow to count all the same, of time
    if (
      c.n < CALIBRATION_REQUESTS &&
      fast <= CALIBRATION_MAX_TOKENS &&
      exactTokens < CALIBRATION_TOTAL_TOKENS &&
      exactMs < CALIBRATION_MAX_MS
    ) {
      release ??= holdEncodings();
      // the tables' build is not counting: on a busy machine it took the whole time budget, and the
      // sample, so the estimate, changed with the load
      loadEncoding(encodingForModel(typeof request.body.model === "string" ? request.body.model : undefined));
      const started = performance.now();
      const exact = estimateRequestTokens(request, { mode: "exact" });
      exactMs += performance.now() - started;
      exactTokens += fast;
      c.exact += exact - media;
      c.fast += fast - media;
      c.n++;
      if (c.kinds) addKindSample(c.kinds, kinds, exact - rest);
      if (calibrated()) letGo();
      return exact;
    }
    if (!c.kinds) return media + Math.ceil(((fast - media) * Math.max(c.exact, 1)) / Math.max(c.fast, 1));
    let fit = fitted.get(model);
    if (fit?.n !== c.n) {
      fit = { n: c.n, factors: kindFactors(c.kinds, Math.max(c.exact, 1) / Math.max(c.fast, 1)) };
      fitted.set(model, fit);
    }
    return Math.ceil(rest + scaleKinds(kinds, fit.factors));
  };
  /** no calibration under way: every model that began one finished it, or a budget is spent */
  const calibrated = () =>
    exactMs >= CALIBRATION_MAX_MS ||
    exactTokens >= CALIBRATION_TOTAL_TOKENS ||
    [...calibration.values()].every((c) => c.n === 0 || c.n >= CALIBRATION_REQUESTS);
  return {
    estimate,
    state: () => ({
      calibration: [...calibration].map(([model, c]) => [model, copy(c)]),
      exactMs,
      exactTokens,
    }),
    close: letGo,
  };
}

function copy(c: Calibration): Calibration {
  return c.kinds
    ? { exact: c.exact, fast: c.fast, n: c.n, kinds: { xx: [...c.kinds.xx], xy: [...c.kinds.xy] } }
    : { exact: c.exact, fast: c.fast, n: c.n };
}

const CALIBRATION_REQUESTS = 500;
const CALIBRATION_MAX_TOKENS = 2000;
const CALIBRATION_MAX_MS = 1000;
/** all models together; ~0.1–0.3 s of counting for ordinary text on one core here */
const CALIBRATION_TOTAL_TOKENS = 300_000;
