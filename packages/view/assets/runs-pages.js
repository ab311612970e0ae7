// batchpipe view: the runs page and a run's page (batches, queue, cost, progress chart).
import {
  api,
  badge,
  cutReasons,
  cutTotal,
  duration,
  failuresLink,
  fmt,
  h,
  money,
  nav,
  recordsLink,
  runLabel,
  runLink,
  runsLink,
  setCrumbs,
  show,
  spent,
  table,
  time,
} from "./dom.js";

/** what the runs page shows now, and which show() drew it: a poll that brings nothing new leaves it be */
let shownRuns = { shown: -1, text: "" };

/**
 * every pipeline's newest runs (a page of them, with a link to the older ones); or, given a
 * pipeline's key, that pipeline's runs from `offset` on (`#/runs/KEY?offset=N`)
 */
export async function runsPage(key, params) {
  const offset = Number(params?.get("offset")) || 0;
  const { pipelines, pageSize } = await api("/api/runs", key ? { pipeline: key, offset } : {});
  setCrumbs(...(key ? [["runs", "#/"], [pipelines[0]?.name ?? key]] : [["runs"]]));
  const live = pipelines.some(
    (p) => p.runningCommand || p.runs?.some((r) => r.status === "running" || r.status === "reading"),
  );
  // drawn anew only when something changed (or a run's duration is counting): a selection stays
  const text = JSON.stringify(pipelines);
  if (!live && shownRuns.shown === nav.shown && shownRuns.text === text) return live;
  const sections = pipelines.map((p) => {
    const head = h(
      "h2",
      null,
      p.name,
      " ",
      h("small", { class: "muted" }, p.file ?? ""),
      // runningCommand without a pid: a holder still starting
      p.runningCommand
        ? h(
            "span",
            { class: "badge running" },
            `${p.runningCommand === "watch" ? "watching" : "running"} · ${p.runningPid ? `pid ${p.runningPid}` : "starting"}`,
          )
        : null,
    );
    const attrs = { "data-pipeline": p.name };
    if (p.error) return h("section", attrs, head, h("p", { class: "error" }, p.error));
    if (p.runs.length === 0) return h("section", attrs, head, h("p", { class: "muted" }, "No run yet."));
    const rows = p.runs.map((r) =>
      h(
        "tr",
        { "data-run": r.id },
        h("td", null, h("a", { href: runLink(p.key, r.id) }, r.id)),
        h("td", null, badge(r.status)),
        h("td", null, time(r.createdAt)),
        h("td", { "data-col": "duration" }, runDuration(r, Date.now())),
        h("td", { class: "num", "data-col": "read" }, fmt(r.read)),
        h(
          "td",
          { class: "num", "data-col": "succeeded" },
          fmt(r.succeeded),
          // the answers cut short among them, their reasons on hover
          cutTotal(r.cutByReason) > 0
            ? h(
                "span",
                { class: "cut", title: `cut short: ${cutReasons(r.cutByReason)}` },
                ` (${fmt(cutTotal(r.cutByReason))} cut)`,
              )
            : null,
        ),
        h("td", { class: "num", "data-col": "failed" }, fmt(r.failed)),
        h("td", { class: "num" }, fmt(r.identical)),
        h("td", { class: "num", "data-col": "estimated" }, money(r.estimatedCost)),
        h("td", { class: "num", "data-col": "cost" }, spent(r)),
        h("td", { class: "num" }, fmt(r.batches)),
      ),
    );
    return h(
      "section",
      attrs,
      head,
      key
        ? h(
            "p",
            { class: "muted" },
            `runs ${fmt(p.offset + 1)}–${fmt(p.offset + p.runs.length)} of ${fmt(p.runCount)}`,
          )
        : null,
      table(
        [
          "run",
          "status",
          "started",
          "duration",
          "read",
          "succeeded",
          "failed",
          "identical",
          "est. cost",
          "cost",
          "batches",
        ],
        rows,
        { class: "runs" },
      ),
      runsPager(p, key !== undefined, pageSize),
    );
  });
  show(h("h1", null, key ? `Runs of ${pipelines[0]?.name ?? key}` : "Runs"), ...sections);
  shownRuns = { shown: nav.shown, text };
  return live;
}

/** the links to a pipeline's older (and newer) runs, when it has more than a page holds */
function runsPager(p, paged, pageSize) {
  const older = p.offset + p.runs.length < p.runCount;
  if (!paged) {
    return older
      ? h(
          "p",
          { class: "pager" },
          h("a", { href: runsLink(p.key, pageSize) }, `Older runs (${fmt(p.runCount)} in all) →`),
        )
      : null;
  }
  if (p.offset === 0 && !older) return null;
  return h(
    "p",
    { class: "pager" },
    p.offset > 0 ? h("a", { href: runsLink(p.key, Math.max(0, p.offset - pageSize)) }, "← Newer") : null,
    p.offset > 0 && older ? " · " : null,
    older ? h("a", { href: runsLink(p.key, p.offset + pageSize) }, "Older →") : null,
  );
}

export async function runPage(p, r, params) {
  const batchOffset = Number(params?.get("batches")) || 0;
  const data = await api("/api/run", {
    pipeline: p,
    run: r,
    ...(batchOffset ? { batches: batchOffset } : {}),
  });
  setCrumbs(["runs", "#/"], [runLabel(data.pipeline.name, r)]);
  const run = data.run;
  const total = run.read ?? 0;
  const done = run.succeeded + run.failed;
  // a run that read nothing and ended has done all it had to
  const pct = total > 0 ? Math.floor((100 * done) / total) : run.status === "done" ? 100 : 0;
  const cards = h(
    "div",
    { class: "cards" },
    card("status", badge(run.status)),
    card(
      "progress",
      h("span", { id: "progress" }, `${fmt(done)} / ${fmt(total)} (${pct}%)`),
      progressBar(pct),
    ),
    card("succeeded", h("span", { id: "succeeded" }, fmt(run.succeeded))),
    cutTotal(run.cutByReason) > 0
      ? card("cut short (partial output)", h("span", { id: "cut" }, cutReasons(run.cutByReason)))
      : null,
    run.cached > 0
      ? card(
          "from the result cache",
          h("span", { id: "cached" }, `${fmt(run.cached)} (paid for in an earlier run)`),
        )
      : null,
    card("failed", h("a", { href: failuresLink(p, r) }, fmt(run.failed))),
    card(
      "cost",
      run.unpriced > 0
        ? `${spent(run)} (${fmt(run.unpriced)} requests to a model without a known price: add it under pricing: in the spec)`
        : `${money(run.cost)} (est. ${money(run.estimatedCost)})`,
    ),
    card("started", time(run.createdAt)),
    card("duration", h("span", { id: "duration" }, runDuration(run, data.now))),
    card("batches", fmt(run.batches)),
  );
  const batches = table(
    [
      "shard",
      "attempt",
      "model",
      "batch",
      "state",
      "requests",
      "done at provider",
      "created",
      "ended",
      "expires in",
    ],
    data.batches.map((b) =>
      h(
        "tr",
        null,
        h("td", null, b.shard),
        h("td", { class: "num" }, b.attempt),
        h("td", null, modelName(b.model)),
        h("td", { class: "mono" }, b.batchId ?? "–"),
        h("td", null, badge(b.status), b.batchStatus ? ` ${b.batchStatus}` : ""),
        h("td", { class: "num" }, fmt(b.requests)),
        h(
          "td",
          { class: "num" },
          b.counts ? `${fmt(b.counts.completed + b.counts.failed)} / ${fmt(b.counts.total)}` : "–",
        ),
        h("td", null, time(b.createdAt)),
        h("td", null, time(b.endedAt)),
        h("td", null, b.expiresAt && !b.endedAt ? duration(b.expiresAt - Date.now()) : "–"),
      ),
    ),
    { class: "batches" },
    "No batch: nothing was sent.",
  );
  // the queue as the provider counts it: OpenAI's enqueued tokens per model, Anthropic's requests
  // across models
  const tokens = data.queue.counts === "tokens";
  const queue = table(
    ["model", "open batches", tokens ? "enqueued tokens (est.)" : "enqueued requests", "limit"],
    data.queue.rows.map((q) =>
      h(
        "tr",
        null,
        h("td", null, modelName(q.model)),
        h("td", { class: "num" }, fmt(q.batches)),
        h("td", { class: "num" }, fmt(q.enqueued)),
        h("td", { class: "num" }, queueLimit(q)),
      ),
    ),
    { class: "queue" },
    "No batch.",
  );
  const costs = table(
    ["model", "estimated", "actual"],
    data.costByModel.map((c) =>
      h(
        "tr",
        null,
        h("td", null, modelName(c.model)),
        h("td", { class: "num" }, money(c.estimated)),
        h("td", { class: "num" }, money(c.actual)),
      ),
    ),
    { class: "costs" },
    "Nothing was sent.",
  );
  show(
    h("h1", null, `Run ${run.id}`),
    h(
      "p",
      { class: "links" },
      h("a", { href: recordsLink(p, r) }, "Records"),
      " · ",
      h("a", { href: failuresLink(p, r) }, `Failures (${fmt(run.failed)})`),
    ),
    data.records ? h("p", { class: "note" }, data.records) : null,
    data.stopped
      ? h("p", { class: "note", id: "stopped" }, stoppedText(data.stopped, run.cancelRequested))
      : null,
    cards,
    h("h2", null, "Progress"),
    chart(data.progress, data.running ? data.now : null),
    h("h2", null, "Batches"),
    batchesShown(data),
    batches,
    batchesPager(p, r, data),
    h(
      "div",
      { class: "two" },
      h(
        "div",
        null,
        h("h2", null, data.queue.per === "model" ? "Queue per model" : "Queue (all models)"),
        queue,
      ),
      h("div", null, h("h2", null, "Cost by model"), costs),
    ),
  );
  return data.running || run.status === "running" || run.status === "reading";
}

/**
 * which of the run's batches the table lists (a page of them), and how many are in each state.
 * It and the pager are there, empty, before any batch: a poll's patch then keeps the elements after them
 */
function batchesShown(data) {
  if (data.batchCount === 0) return h("p", { class: "muted", id: "batches-shown" });
  const last = data.batchOffset + data.batches.length;
  const states = Object.entries(data.batchStates)
    .sort((a, b) => b[1] - a[1])
    .map(([state, n]) => `${fmt(n)} ${state}`)
    .join(" · ");
  return h(
    "p",
    { class: "muted", id: "batches-shown" },
    data.batchCount > data.batches.length
      ? `batches ${fmt(data.batchOffset + 1)}–${fmt(last)} of ${fmt(data.batchCount)} · ${states}`
      : states,
  );
}

/** the links to the run's earlier and later batches, when it has more than a page */
function batchesPager(p, r, data) {
  const size = data.batchPageSize;
  const earlier = data.batchOffset > 0;
  const later = data.batchOffset + data.batches.length < data.batchCount;
  if (!earlier && !later) return h("p", { class: "pager" });
  const at = (offset) => `${runLink(p, r)}${offset > 0 ? `?batches=${offset}` : ""}`;
  return h(
    "p",
    { class: "pager" },
    earlier ? h("a", { href: at(Math.max(0, data.batchOffset - size)) }, "← Earlier batches") : null,
    earlier && later ? " · " : null,
    later ? h("a", { href: at(data.batchOffset + size) }, "Later batches →") : null,
  );
}

/** how long a run took, or has been going; unknown for one stopped (no process runs it, `batchpipe runs` says "-") */
function runDuration(run, now) {
  if (run.finishedAt) return duration(run.finishedAt - run.createdAt);
  return run.status === "stopped" ? "–" : duration(now - run.createdAt);
}

/** why a stopped run stopped and how to go on (or settle its cancel), as `batchpipe status` says */
function stoppedText({ reason, resume }, cancelRequested) {
  const why = reason
    ? `Stopped on: ${reason.message} (${reason.code}) at ${time(reason.at)}.${reason.hint ? ` ${reason.hint}` : ""}`
    : "Stopped: the process running it is gone (killed, or the machine restarted); no error was recorded.";
  return cancelRequested
    ? `${why} The cancel is not settled: its batches' states are those last polled. Settle it with: ${resume}`
    : `${why} Resume with: ${resume}`;
}

/** a queue's budget, and where it comes from */
function queueLimit(q) {
  if (q.limit === null) return "none set, none learnt yet (the run learns one from the provider's refusals)";
  return q.limitFrom === "learnt" ? `${fmt(q.limit)} (learnt from a refusal)` : fmt(q.limit);
}

/** a shard's model; none when the provider's batches mix models (Anthropic's) */
const modelName = (model) => model || "all models";

function card(label, ...value) {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
  );
}

function progressBar(pct) {
  const bar = h("div", { class: "bar" }, h("div", { class: "fill" }));
  bar.firstChild.style.width = `${pct}%`;
  return bar;
}

/** requests collected over time, as an SVG step line */
function chart(progress, now) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const points = [...progress.points];
  if (now) points.push([now, points.at(-1)[1]]);
  const W = 720;
  const H = 180;
  const t0 = points[0][0];
  const t1 = Math.max(points.at(-1)[0], t0 + 1000);
  const yMax = Math.max(progress.total ?? 0, points.at(-1)[1], 1);
  // room for the top label right-aligned left of the axis (11px digits are under 7px wide)
  const L = Math.max(40, 10 + 7 * fmt(yMax).length);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 20);
  const y = (n) => H - 25 - (n / yMax) * (H - 40);
  let d = "";
  points.forEach(([t, n], i) => {
    d += i === 0 ? `M${x(t)},${y(n)}` : `H${x(t)}V${y(n)}`;
  });
  const el = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  el.append(
    svg("line", { x1: L, y1: H - 25, x2: W - 20, y2: H - 25, class: "axis" }),
    svg("line", { x1: L, y1: 15, x2: L, y2: H - 25, class: "axis" }),
    svg("path", { d, class: "line" }),
    svg("text", { x: L - 4, y: 20, "text-anchor": "end", class: "y-max" }, fmt(yMax)),
    svg("text", { x: L - 4, y: H - 25, "text-anchor": "end" }, "0"),
    svg("text", { x: L, y: H - 8 }, time(t0)),
    svg("text", { x: W - 20, y: H - 8, "text-anchor": "end" }, `+${duration(t1 - t0)}`),
  );
  return h(
    "figure",
    null,
    el,
    h(
      "figcaption",
      { class: "muted" },
      "requests collected over time (per delivered batch; a retried request counts once, when its last attempt is collected)",
    ),
  );
}
