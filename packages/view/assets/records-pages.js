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
  const slice = (cursor, limit = 50) =>
    api("/api/records", { pipeline: p, run: r, ...query, limit, ...(cursor ? { cursor } : {}) });
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
  // moved by the pager: the focus goes to the new page's first record (its buttons are replaced)
  const load = async (cursor, moved = false) => {
    body.replaceChildren();
    pager.replaceChildren();
    let next = cursor;
    let shown = 0;
    let pct = 0;
    // a page is 50 rows; a search answers in slices of ~300 ms and goes on from its cursor
    do {
      const page = await (prefetched ?? slice(next, 50 - shown));
      prefetched = null;
      if (mine !== nav.generation) return;
      for (const row of page.rows) {
        shown++;
        body.append(
          h(
            "tr",
            { "data-status": row.status, "data-code": row.code ?? "", "data-cut": row.cut ?? "" },
            h("td", null, h("a", { href: recordLink(p, r, row.ref) }, row.id)),
            h("td", null, badge(row.status), row.cut ? cutBadge(row.cut) : null),
            h("td", null, row.code ?? ""),
            h("td", { class: "clip" }, row.output),
            h("td", { class: "clip" }, row.input),
          ),
        );
      }
      next = page.next;
      pct = page.total > 0 ? Math.floor((100 * page.scanned) / page.total) : 100;
      state.textContent = next
        ? `searched ${pct}% of the run's records…`
        : `searched all of the run's records`;
    } while (next && shown < 50);
    const unfiltered = Object.keys(query).length === 0;
    // a listing, not a search: which records these are
    const first = (cursors.length - 1) * 50 + 1;
    const listed = `records ${fmt(first)}–${fmt(first + shown - 1)} · ${next ? `${pct}%` : "all"} of the run's records read`;
    state.textContent =
      shown > 0
        ? unfiltered
          ? listed
          : state.textContent.replace("…", "")
        : unfiltered && cursors.length === 1 && !runData.records
          ? "This run has no records."
          : "No record matches.";
    if (moved) (body.querySelector("a") ?? state).focus();
    if (cursors.length > 1)
      pager.append(
        h(
          "button",
          {
            onclick: () => {
              cursors.pop();
              load(cursors.at(-1), true);
            },
          },
          "← Previous",
        ),
      );
    if (next) {
      const onclick = () => {
        cursors.push(next);
        load(next, true);
      };
      pager.append(h("button", { onclick }, "Next →"));
    }
  };
  await load(cursors[0]);
  return false;
}

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
