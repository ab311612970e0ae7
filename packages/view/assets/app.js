// batchpipe view: the page. Plain DOM, no framework, no build step. Every piece of data reaches the
// page as a text node (h() below never parses HTML): a model output of `<img onerror=…>` shows as
// those characters. Pages: #/ runs · #/run/P/R · #/records/P/R?q&status&code · #/record/P/R/REF ·
// #/failures/P/R. The runs and run pages poll while shown, so a run in progress moves.

const token = new URLSearchParams(location.search).get("token");
const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const live = document.getElementById("live");
const POLL_MS = 1500;
let timer;
let generation = 0;

// --- helpers ---

/** an element with attributes, listeners (onx) and children; strings become text nodes */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

async function api(path, params) {
  const query = new URLSearchParams(params ?? {});
  if (token) query.set("token", token);
  const res = await fetch(`${path}?${query}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
// as the CLI's report writes it
const money = (n) => (n === null || n === undefined ? "–" : `$${n < 0.01 ? n.toFixed(4) : n.toFixed(2)}`);
const time = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** the page's content (null and false children are left out) */
function show(...children) {
  main.replaceChildren();
  append(main, children);
}

const runLink = (p, r) => `#/run/${encodeURIComponent(p)}/${encodeURIComponent(r)}`;
const recordsLink = (p, r, q) =>
  `#/records/${encodeURIComponent(p)}/${encodeURIComponent(r)}${q ? `?${new URLSearchParams(q)}` : ""}`;
const recordLink = (p, r, ref) =>
  `#/record/${encodeURIComponent(p)}/${encodeURIComponent(r)}/${encodeURIComponent(ref)}`;
const failuresLink = (p, r) => `#/failures/${encodeURIComponent(p)}/${encodeURIComponent(r)}`;

const badge = (status) => h("span", { class: `badge ${status}`, "data-status": status }, status);

function table(headers, rows, attrs) {
  return h(
    "table",
    attrs,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        headers.map((x) => h("th", null, x)),
      ),
    ),
    h("tbody", null, rows),
  );
}

function setCrumbs(...items) {
  crumbs.replaceChildren();
  for (const [label, href] of items) append(crumbs, [" / ", href ? h("a", { href }, label) : label]);
}

/** JSON as a collapsible tree: objects and arrays are <details>, leaves are text */
function jsonTree(value, open = true) {
  if (value === null || typeof value !== "object") {
    return h("span", { class: `json ${value === null ? "null" : typeof value}` }, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const label = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return h(
    "details",
    { class: "json", open },
    h("summary", null, label),
    h(
      "ul",
      null,
      entries.map(([k, v]) =>
        h("li", null, h("span", { class: "key" }, `${k}: `), jsonTree(v, entries.length < 20)),
      ),
    ),
  );
}

/** text as written; a string holding JSON is also shown as a tree */
function textBlock(value) {
  if (typeof value === "string") return h("pre", { class: "text" }, value);
  return jsonTree(value);
}

// --- pages ---

async function runsPage() {
  setCrumbs(["runs"]);
  const { pipelines } = await api("/api/runs");
  const sections = pipelines.map((p) => {
    const head = h(
      "h2",
      null,
      p.name,
      " ",
      h("small", { class: "muted" }, p.file ?? ""),
      p.runningPid ? h("span", { class: "badge running" }, `running · pid ${p.runningPid}`) : null,
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
        h("td", null, duration((r.finishedAt ?? Date.now()) - r.createdAt)),
        h("td", { class: "num", "data-col": "read" }, fmt(r.read)),
        h("td", { class: "num", "data-col": "succeeded" }, fmt(r.succeeded)),
        h("td", { class: "num", "data-col": "failed" }, fmt(r.failed)),
        h("td", { class: "num" }, fmt(r.identical)),
        h("td", { class: "num", "data-col": "estimated" }, money(r.estimatedCost)),
        h("td", { class: "num", "data-col": "cost" }, money(r.cost)),
        h("td", { class: "num" }, fmt(r.batches)),
      ),
    );
    return h(
      "section",
      attrs,
      head,
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
    );
  });
  show(h("h1", null, "Runs"), ...sections);
  return pipelines.some(
    (p) => p.runningPid || p.runs?.some((r) => r.status === "running" || r.status === "reading"),
  );
}

async function runPage(p, r) {
  const data = await api("/api/run", { pipeline: p, run: r });
  setCrumbs(["runs", "#/"], [`${data.pipeline.name} · ${r}`]);
  const run = data.run;
  const total = run.read ?? 0;
  const done = run.succeeded + run.failed;
  const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
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
    card("failed", h("a", { href: failuresLink(p, r) }, fmt(run.failed))),
    card("cost", `${money(run.cost)} (est. ${money(run.estimatedCost)})`),
    card("started", time(run.createdAt)),
    card("duration", duration((run.finishedAt ?? data.now) - run.createdAt)),
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
        h("td", null, b.model),
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
  );
  const queue = table(
    ["model", "open batches", "enqueued tokens (est.)", "limit"],
    data.queue.map((q) =>
      h(
        "tr",
        null,
        h("td", null, q.model),
        h("td", { class: "num" }, fmt(q.batches)),
        h("td", { class: "num" }, fmt(q.tokens)),
        h("td", { class: "num" }, q.limit === null ? "unlimited" : fmt(q.limit)),
      ),
    ),
  );
  const costs = table(
    ["model", "estimated", "actual"],
    data.costByModel.map((c) =>
      h(
        "tr",
        null,
        h("td", null, c.model),
        h("td", { class: "num" }, money(c.estimated)),
        h("td", { class: "num" }, money(c.actual)),
      ),
    ),
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
    cards,
    h("h2", null, "Progress"),
    chart(data.progress, data.running ? data.now : null),
    h("h2", null, "Batches"),
    batches,
    h(
      "div",
      { class: "two" },
      h("div", null, h("h2", null, "Queue per model"), queue),
      h("div", null, h("h2", null, "Cost by model"), costs),
    ),
  );
  return data.running || run.status === "running" || run.status === "reading";
}

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
  const x = (t) => 40 + ((t - t0) / (t1 - t0)) * (W - 60);
  const y = (n) => H - 25 - (n / yMax) * (H - 40);
  let d = "";
  points.forEach(([t, n], i) => {
    d += i === 0 ? `M${x(t)},${y(n)}` : `H${x(t)}V${y(n)}`;
  });
  const el = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  el.append(
    svg("line", { x1: 40, y1: H - 25, x2: W - 20, y2: H - 25, class: "axis" }),
    svg("line", { x1: 40, y1: 15, x2: 40, y2: H - 25, class: "axis" }),
    svg("path", { d, class: "line" }),
    svg("text", { x: 36, y: 20, "text-anchor": "end" }, fmt(yMax)),
    svg("text", { x: 36, y: H - 25, "text-anchor": "end" }, "0"),
    svg("text", { x: 40, y: H - 8 }, time(t0)),
    svg("text", { x: W - 20, y: H - 8, "text-anchor": "end" }, `+${duration(t1 - t0)}`),
  );
  return h(
    "figure",
    null,
    el,
    h("figcaption", { class: "muted" }, "requests collected over time (per delivered batch)"),
  );
}

async function recordsPage(p, r, params) {
  setCrumbs(["runs", "#/"], [r, runLink(p, r)], ["records"]);
  const query = {};
  for (const key of ["q", "status", "code"]) if (params.get(key)) query[key] = params.get(key);
  const cursors = [params.get("cursor") ?? ""];
  // the run (for its failure codes) and the first slice of records, fetched together
  const slice = (cursor, limit = 50) =>
    api("/api/records", { pipeline: p, run: r, ...query, limit, ...(cursor ? { cursor } : {}) });
  let prefetched = slice(cursors[0]);
  prefetched.catch(() => undefined);
  const runData = await api("/api/run", { pipeline: p, run: r });
  const codes = Object.keys(runData.run.failedByCode);
  const q = h("input", {
    type: "search",
    name: "q",
    placeholder: "id or text in input / output",
    value: params.get("q") ?? "",
  });
  const status = h(
    "select",
    { name: "status" },
    ["", "success", "failed"].map((s) =>
      h("option", { value: s, selected: (params.get("status") ?? "") === s }, s || "any status"),
    ),
  );
  const code = h(
    "select",
    { name: "code" },
    h("option", { value: "" }, "any failure code"),
    codes.map((c) => h("option", { value: c, selected: params.get("code") === c }, c)),
  );
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const next = {};
        if (q.value) next.q = q.value;
        if (status.value) next.status = status.value;
        if (code.value) next.code = code.value;
        location.hash = recordsLink(p, r, next);
      },
    },
    q,
    status,
    code,
    h("button", { type: "submit" }, "Search"),
  );
  const body = h("tbody");
  const state = h("p", { class: "muted", id: "scan-state" });
  const pager = h("p", { class: "pager" });
  show(
    h("h1", null, "Records"),
    form,
    runData.records ? h("p", { class: "note" }, runData.records) : null,
    h(
      "table",
      { class: "records" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["id", "status", "code", "output", "input"].map((x) => h("th", null, x)),
        ),
      ),
      body,
    ),
    state,
    pager,
  );
  const mine = generation;
  const load = async (cursor) => {
    body.replaceChildren();
    pager.replaceChildren();
    let next = cursor;
    let shown = 0;
    // a page is 50 rows; a search answers in slices of ~300 ms and goes on from its cursor
    do {
      const page = await (prefetched ?? slice(next, 50 - shown));
      prefetched = null;
      if (mine !== generation) return;
      for (const row of page.rows) {
        shown++;
        body.append(
          h(
            "tr",
            { "data-status": row.status, "data-code": row.code ?? "" },
            h("td", null, h("a", { href: recordLink(p, r, row.ref) }, row.id)),
            h("td", null, badge(row.status)),
            h("td", null, row.code ?? ""),
            h("td", { class: "clip" }, row.output),
            h("td", { class: "clip" }, row.input),
          ),
        );
      }
      next = page.next;
      const pct = page.total > 0 ? Math.floor((100 * page.scanned) / page.total) : 100;
      state.textContent = next
        ? `searched ${pct}% of the run's records…`
        : `searched all of the run's records`;
    } while (next && shown < 50);
    state.textContent = shown === 0 ? "No record matches." : state.textContent.replace("…", "");
    if (cursors.length > 1)
      pager.append(
        h(
          "button",
          {
            onclick: () => {
              cursors.pop();
              load(cursors.at(-1));
            },
          },
          "← Previous",
        ),
      );
    if (next) {
      const onclick = () => {
        cursors.push(next);
        load(next);
      };
      pager.append(h("button", { onclick }, "Next →"));
    }
  };
  await load(cursors[0]);
  return false;
}

async function recordPage(p, r, ref) {
  setCrumbs(["runs", "#/"], [r, runLink(p, r)], ["records", recordsLink(p, r)], ["record"]);
  const { row, cost, request } = await api("/api/record", { pipeline: p, run: r, ref });
  const facts = [
    ["status", badge(row.status)],
    ["attempts", row.attempts],
    ["batch", row.batch_id ?? "–"],
    ["model", row.model ?? "–"],
    ["source", row.source ? `${row.source.file ?? ""}${row.source.line ? `:${row.source.line}` : ""}` : "–"],
    ["usage", row.usage ? `${fmt(row.usage.input_tokens)} in / ${fmt(row.usage.output_tokens)} out` : "–"],
    // one record costs fractions of a cent
    ["cost", cost === null || cost === undefined ? "–" : `$${cost.toFixed(6)}`],
  ];
  show(
    h("h1", null, "Record ", h("span", { class: "mono", id: "record-id" }, row.id)),
    h(
      "dl",
      { class: "facts" },
      facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
    ),
    row.error
      ? h(
          "section",
          { id: "error" },
          h("h2", null, `Error: ${row.error.code}`),
          h("pre", { class: "text" }, row.error.message),
        )
      : null,
    h("section", { id: "input" }, h("h2", null, "Input"), jsonTree(row.input)),
    h(
      "section",
      { id: "request" },
      h("h2", null, "Request"),
      request
        ? [
            h(
              "p",
              { class: "muted" },
              request.from === "shard"
                ? `as sent, from shard ${request.shard}`
                : "rendered again from the record's input by the spec's transform (the run removed its shard files)",
            ),
            request.error ? h("p", { class: "error" }, request.error) : jsonTree(request.line),
          ]
        : h("p", { class: "muted" }, "no request was made for this record"),
    ),
    "output" in row ? h("section", { id: "output" }, h("h2", null, "Output"), textBlock(row.output)) : null,
    row.response ? h("section", null, h("h2", null, "Response"), jsonTree(row.response, false)) : null,
  );
  return false;
}

async function failuresPage(p, r) {
  setCrumbs(["runs", "#/"], [r, runLink(p, r)], ["failures"]);
  const data = await api("/api/failures", { pipeline: p, run: r });
  show(
    h("h1", null, "Failures"),
    data.note ? h("p", { class: "note" }, data.note) : null,
    data.codes.length === 0 ? h("p", { class: "muted" }, "No failure.") : null,
    data.codes.map((c) =>
      h(
        "section",
        { class: "failure", "data-code": c.code },
        h("h2", null, h("span", { class: "mono" }, c.code), ` · ${fmt(c.count)}`),
        h("p", { class: "hint" }, c.hint),
        h(
          "ul",
          null,
          c.examples.map((e) =>
            h("li", null, h("a", { href: recordLink(p, r, e.ref) }, e.id), ` — ${e.output}`),
          ),
        ),
        h("a", { href: recordsLink(p, r, { code: c.code }) }, `all ${fmt(c.count)} →`),
      ),
    ),
  );
  return false;
}

// --- router ---

async function route() {
  clearTimeout(timer);
  const mine = ++generation;
  const [pathPart, queryPart] = location.hash.replace(/^#/, "").split("?");
  const parts = (pathPart || "/").split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(queryPart ?? "");
  const pages = {
    run: () => runPage(parts[1], parts[2]),
    records: () => recordsPage(parts[1], parts[2], params),
    record: () => recordPage(parts[1], parts[2], parts[3]),
    failures: () => failuresPage(parts[1], parts[2]),
  };
  const page = pages[parts[0]] ?? runsPage;
  const tick = async () => {
    try {
      const again = await page();
      if (mine !== generation) return;
      live.textContent = again ? "● live" : "";
      // finished runs move no more, but a new run may start: the runs page keeps polling
      if (again || page === runsPage) timer = setTimeout(tick, POLL_MS);
    } catch (error) {
      if (mine !== generation) return;
      show(h("p", { class: "error" }, String(error.message ?? error)));
    }
  };
  await tick();
}

window.addEventListener("hashchange", route);
route();
