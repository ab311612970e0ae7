// batchpipe view: a run's records (search, filters, paging by cursor), one record, its failures.
import {
  api,
  badge,
  cutMeaning,
  fmt,
  h,
  jsonTree,
  money,
  nav,
  recordLink,
  recordsLink,
  runLabel,
  runLink,
  scrollBox,
  setCrumbs,
  show,
  textBlock,
} from "./dom.js";

export async function recordsPage(p, r, params) {
  const query = {};
  for (const key of ["q", "status", "code"]) if (params.get(key)) query[key] = params.get(key);
  const cursors = [params.get("cursor") ?? ""];
  // the run (for its failure codes) and the first slice of records, fetched together
  const slice = (cursor, limit = 50, from = null) =>
    api("/api/records", {
      pipeline: p,
      run: r,
      ...query,
      limit,
      ...(cursor ? { cursor } : {}),
      ...(from ? { from: Object.entries(from).map(([tag, at]) => `${tag}:${at}`) } : {}),
    });
  let prefetched = slice(cursors[0]);
  prefetched.catch(() => undefined);
  const runData = await api("/api/run", { pipeline: p, run: r });
  setCrumbs(["runs", "#/"], [runLabel(runData.pipeline.name, r), runLink(p, r)], ["records"]);
  const codes = Object.keys(runData.run.failedByCode);
  const q = h("input", {
    type: "search",
    name: "q",
    "aria-label": "search the records",
    placeholder: "id or text in input / output",
    value: params.get("q") ?? "",
  });
  const status = h(
    "select",
    { name: "status", "aria-label": "status" },
    ["", "success", "failed"].map((s) =>
      h("option", { value: s, selected: (params.get("status") ?? "") === s }, s || "any status"),
    ),
  );
  const code = h(
    "select",
    { name: "code", "aria-label": "failure code" },
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
  const state = h("p", { class: "muted", id: "scan-state", tabindex: -1 });
  const pager = h("p", { class: "pager" });
  show(
    h("h1", null, "Records"),
    form,
    runData.records ? h("p", { class: "note" }, runData.records) : null,
    runData.cutNote ? h("p", { class: "note" }, runData.cutNote) : null,
    scrollBox(
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
    ),
    state,
    pager,
  );
  const mine = nav.generation;
  /** the last load's: its ticket (a later load, the pager's or a poll's, drops an earlier one) and its end */
  let loads = 0;
  const last = { next: null, pager: "", ends: null };
  const live = document.getElementById("live");
  let running = runData.running;
  // moved by the pager: the focus goes to the new page's first record (its buttons are replaced);
  // refresh: the same page again while the run delivers: the rows it lacked are added, the others stay
  const load = async (cursor, { moved = false, refresh = false } = {}) => {
    const ticket = ++loads;
    if (!refresh) {
      body.replaceChildren();
      pager.replaceChildren();
      last.pager = "";
    }
    // a page not full that was read to the end reads only what the run added since (not the whole
    // files again at every delivery: a search on a large live run)
    const from = refresh && last.ends && !last.next && body.rows.length < 50 ? last.ends : null;
    const already = from ? body.rows.length : 0;
    let next = from ? null : cursor;
    const rows = [];
    let pct = 0;
    let ends = null;
    // a page is 50 rows; a search answers in slices of ~300 ms and goes on from its cursor
    do {
      const page = await (prefetched ?? slice(next, 50 - already - rows.length, from));
      prefetched = null;
      if (mine !== nav.generation || ticket !== loads) return;
      for (const row of page.rows) {
        rows.push(row);
        if (!refresh || from) body.append(recordRow(row));
      }
      next = page.next;
      ends = page.ends;
      pct = page.total > 0 ? Math.floor((100 * page.scanned) / page.total) : 100;
      if (!refresh) state.textContent = next ? `searched ${pct}% of the run's records…` : searched(next, pct);
    } while (next && already + rows.length < 50);
    last.ends = next ? null : ends;
    if (refresh && !from) {
      // the rows shown stay when the page starts with them (a run appends): only the new ones are added
      const shownRefs = [...body.rows].map((tr) => tr.dataset.ref);
      const keeps = shownRefs.every((ref, i) => rows[i]?.ref === ref);
      if (!keeps) body.replaceChildren();
      for (const row of rows.slice(keeps ? shownRefs.length : 0)) body.append(recordRow(row));
    }
    last.next = next;
    const shown = already + rows.length;
    const unfiltered = Object.keys(query).length === 0;
    // a listing, not a search: which records these are
    const first = (cursors.length - 1) * 50 + 1;
    const listed = `records ${fmt(first)}–${fmt(first + shown - 1)} · ${next ? `${pct}%` : "all"} of the run's records read`;
    state.textContent =
      shown > 0
        ? unfiltered
          ? listed
          : searched(next, pct)
        : running
          ? "No record yet: they appear here as the run delivers them."
          : unfiltered && cursors.length === 1 && !runData.records
            ? "This run has no records."
            : "No record matches.";
    if (moved) (body.querySelector("a") ?? state).focus();
    // the pager's buttons, drawn again only when they change (the focus may be on one)
    const shape = `${cursors.length > 1}|${Boolean(next)}`;
    if (shape === last.pager) return;
    last.pager = shape;
    pager.replaceChildren();
    if (cursors.length > 1)
      pager.append(
        h(
          "button",
          {
            onclick: () => {
              cursors.pop();
              load(cursors.at(-1), { moved: true });
            },
          },
          "← Previous",
        ),
      );
    if (next) {
      const onclick = () => {
        cursors.push(next);
        load(next, { moved: true });
      };
      pager.append(h("button", { onclick }, "Next →"));
    }
  };
  const recordRow = (row) =>
    h(
      "tr",
      {
        "data-ref": row.ref,
        "data-status": row.status,
        "data-code": row.code ?? "",
        "data-cut": row.cut ?? "",
      },
      h("td", null, h("a", { href: recordLink(p, r, row.ref) }, row.id)),
      h("td", null, badge(row.status), row.cut ? cutBadge(row.cut) : null),
      h("td", null, row.code ?? ""),
      h("td", { class: "clip" }, row.output),
      h("td", { class: "clip" }, row.input),
    );
  await load(cursors[0]);
  if (!running) return false;
  // a live run: its records are read again as it delivers them, on the page and with the filters
  // shown (a page the run's new rows cannot reach, one with a next page, stays as it is)
  live.textContent = "● live";
  let seen = delivered(runData.run);
  const watch = async () => {
    if (mine !== nav.generation) return;
    try {
      const now = await api("/api/run", { pipeline: p, run: r });
      if (mine !== nav.generation) return;
      running = now.running;
      // failure codes met since: the filter offers them too
      for (const c of Object.keys(now.run.failedByCode))
        if (!codes.includes(c)) {
          codes.push(c);
          code.append(h("option", { value: c }, c));
        }
      const count = delivered(now.run);
      if ((count !== seen || !running) && !last.next) await load(cursors.at(-1), { refresh: true });
      seen = count;
    } catch {
      // the viewer does not answer (restarting?): tried again at the next poll
    }
    if (mine !== nav.generation) return;
    live.textContent = running ? "● live" : "";
    if (running) setTimeout(watch, POLL_MS);
  };
  setTimeout(watch, POLL_MS);
  // the router leaves the live mark and the polling to this page
  return null;
}

const POLL_MS = 1500;

/** what a search has read of the run's records */
const searched = (next, pct) =>
  next ? `searched ${pct}% of the run's records` : "searched all of the run's records";

/** the run's records delivered so far (and its status: a run that ends is read once more) */
const delivered = (run) => `${run.succeeded}|${run.failed}|${run.status}`;

export async function recordPage(p, r, ref) {
  const { pipeline, row, cost, cut, request } = await api("/api/record", { pipeline: p, run: r, ref });
  setCrumbs(
    ["runs", "#/"],
    [runLabel(pipeline.name, r), runLink(p, r)],
    ["records", recordsLink(p, r)],
    ["record"],
  );
  const facts = [
    ["status", badge(row.status)],
    cut ? ["cut short", h("span", { id: "cut" }, cutBadge(cut), ` ${cutMeaning(cut)}`)] : null,
    ["attempts", row.attempts],
    ["batch", row.batch_id ?? "–"],
    ["model", row.model ?? "–"],
    ["source", row.source ? `${row.source.file ?? ""}${row.source.line ? `:${row.source.line}` : ""}` : "–"],
    ["usage", row.usage ? `${fmt(row.usage.input_tokens)} in / ${fmt(row.usage.output_tokens)} out` : "–"],
    // one record costs fractions of a cent: two significant digits
    ["cost", money(cost)],
  ];
  show(
    h("h1", null, "Record ", h("span", { class: "mono", id: "record-id" }, row.id)),
    h(
      "dl",
      { class: "facts" },
      facts.filter(Boolean).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
    ),
    row.error
      ? h(
          "section",
          { id: "error" },
          h("h2", null, `Error: ${row.error.code}`),
          h("pre", { class: "text" }, row.error.message),
        )
      : null,
    h(
      "section",
      { id: "input" },
      h("h2", null, "Input"),
      "input" in row
        ? jsonTree(row.input)
        : h(
            "p",
            { class: "muted" },
            "this sink keeps no input: add input (and source) to its fields, or fields: all",
          ),
    ),
    h(
      "section",
      { id: "request" },
      h("h2", null, "Request"),
      request?.from === "gone"
        ? h(
            "p",
            { class: "muted" },
            "Not kept: the run removed its shard files, and this sink keeps no input to render the request again from: add input to its fields (or fields: all).",
          )
        : request
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

export async function failuresPage(p, r) {
  const data = await api("/api/failures", { pipeline: p, run: r });
  setCrumbs(["runs", "#/"], [runLabel(data.pipeline.name, r), runLink(p, r)], ["failures"]);
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

/** marks a success whose answer the model cut short (max_tokens, content_filter) */
function cutBadge(reason) {
  return h("span", { class: "badge cut", "data-cut": reason, title: cutMeaning(reason) }, `cut: ${reason}`);
}
