// batchpipe view: the DOM helpers, the API client and the formats every page uses. h() builds
// elements whose data children are text nodes only: a model output of `<img onerror=…>` shows as
// those characters, never as HTML.

import { formatMoney } from "./format.js";

export const token = new URLSearchParams(location.search).get("token");
export const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
/** generation: bumped at each navigation (a page's late answers are dropped); shown: at each show() */
export const nav = { generation: 0, shown: 0 };

/** an element with attributes, listeners (onx) and children; strings become text nodes */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) {
      el.addEventListener(key.slice(2), value);
      // its listener is the new one's: show() replaces such an element rather than keeping the old
      el.dataset.listens = "";
    } else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export async function api(path, params) {
  const query = new URLSearchParams(params ?? {});
  if (token) query.set("token", token);
  const res = await fetch(`${path}?${query}`);
  const body = await res.json();
  if (!res.ok) {
    const error = new Error(body.error ?? `HTTP ${res.status}`);
    // the pipeline's spec file was removed or renamed since: its pages are gone
    error.gone = body.gone === true;
    throw error;
  }
  return body;
}

export const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
// as the CLI's report writes it (under a cent, two significant digits)
export const money = (n) => (n === null || n === undefined ? "–" : formatMoney(n));
// a run's cost: "unknown", or at least its cost, when some requests went to a model without a known price
export const spent = (run) =>
  run.unpriced > 0 ? (run.cost > 0 ? `≥${money(run.cost)}` : "unknown") : money(run.cost);
export const time = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

export function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/**
 * the page's content (null and false children are left out). A page that polls shows itself again
 * every 1.5 s: then only what changed is changed in the page (a text, an attribute, a row more or
 * less), so a selection, a table scrolled sideways, the focus stay; a page shown after a navigation
 * replaces the last one whole. The element the keyboard was on (the same link, button or field)
 * gets the focus back if it was replaced.
 */
export function show(...children) {
  const focused = focusKey(document.activeElement);
  const again = shownAt === nav.generation;
  shownAt = nav.generation;
  nav.shown++;
  if (again) {
    const next = document.createElement("main");
    append(next, children);
    patchChildren(main, next);
  } else {
    main.replaceChildren();
    append(main, children);
  }
  if (focused && !main.contains(document.activeElement))
    findFocusable(focused)?.focus({ preventScroll: true });
}

/** the navigation whose page main shows */
let shownAt = -1;

/** makes `from`'s children those of `to`, node by node, changing only what differs */
function patchChildren(from, to) {
  const old = [...from.childNodes];
  const next = [...to.childNodes];
  next.forEach((node, i) => {
    const here = old[i];
    if (!here) from.append(node);
    else if (!sameKind(here, node)) from.replaceChild(node, here);
    else if (node.nodeType === Node.ELEMENT_NODE) patchElement(here, node);
    else if (here.data !== node.data) here.data = node.data;
  });
  for (const node of old.slice(next.length)) node.remove();
}

function patchElement(el, to) {
  for (const { name, value } of [...to.attributes])
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  for (const { name } of [...el.attributes]) if (!to.hasAttribute(name)) el.removeAttribute(name);
  patchChildren(el, to);
}

/** the same tag (and a row of the same run or record), neither with a listener of its own */
function sameKind(a, b) {
  if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) return false;
  if (a.nodeType !== Node.ELEMENT_NODE) return true;
  return (
    !a.hasAttribute("data-listens") &&
    !b.hasAttribute("data-listens") &&
    a.getAttribute("data-run") === b.getAttribute("data-run")
  );
}

const FOCUSABLE = "a[href], button, input, select, textarea, summary";
const focusSignature = (el) =>
  `${el.tagName}|${el.getAttribute("href") ?? el.getAttribute("name") ?? ""}|${el.textContent}`;

/**
 * which of the page's focusable elements `el` is: its signature and which one of those alike, and its
 * place among all of them (for a link whose text moved, such as a live count)
 */
function focusKey(el) {
  if (!el || el === main || !main.contains(el)) return null;
  const all = [...main.querySelectorAll(FOCUSABLE)];
  const signature = focusSignature(el);
  const alike = all.filter((e) => focusSignature(e) === signature);
  return { signature, index: alike.indexOf(el), place: all.indexOf(el) };
}

function findFocusable({ signature, index, place }) {
  const all = [...main.querySelectorAll(FOCUSABLE)];
  const alike = all.filter((e) => focusSignature(e) === signature);
  return alike.length > 0 ? alike[Math.min(index, alike.length - 1)] : all[place];
}

export const runsLink = (p, offset) => `#/runs/${encodeURIComponent(p)}${offset ? `?offset=${offset}` : ""}`;
export const runLink = (p, r) => `#/run/${encodeURIComponent(p)}/${encodeURIComponent(r)}`;
export const recordsLink = (p, r, q) =>
  `#/records/${encodeURIComponent(p)}/${encodeURIComponent(r)}${q ? `?${new URLSearchParams(q)}` : ""}`;
export const recordLink = (p, r, ref) =>
  `#/record/${encodeURIComponent(p)}/${encodeURIComponent(r)}/${encodeURIComponent(ref)}`;
export const failuresLink = (p, r) => `#/failures/${encodeURIComponent(p)}/${encodeURIComponent(r)}`;

export const badge = (status) => h("span", { class: `badge ${status}`, "data-status": status }, status);

/** answers cut short, whatever the reason, from a run's cutByReason */
export const cutTotal = (byReason) => Object.values(byReason ?? {}).reduce((sum, n) => sum + n, 0);
/** "2 at max_tokens · 1 by the content filter" */
export const cutReasons = (byReason) =>
  Object.entries(byReason ?? {})
    .filter(([, n]) => n > 0)
    .map(
      ([reason, n]) => `${fmt(n)} ${reason === "content_filter" ? "by the content filter" : `at ${reason}`}`,
    )
    .join(" · ");
/** what a cut row's output is, and what to do */
export const cutMeaning = (reason) =>
  reason === "content_filter"
    ? "stopped by the provider's content filter: the output is partial or empty"
    : `cut short at ${reason}: the output is partial (raise max_tokens in the transform's body)`;

/**
 * a table in a box that scrolls sideways when it is wider than the window (the page never does);
 * `empty`: what its one row says when it has none
 */
export function table(headers, rows, attrs, empty) {
  return scrollBox(
    h(
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
      h(
        "tbody",
        null,
        rows.length === 0 && empty
          ? h("tr", null, h("td", { class: "muted", colspan: headers.length }, empty))
          : rows,
      ),
    ),
  );
}

export const scrollBox = (el) => h("div", { class: "scroll" }, el);

/** the crumbs, and the window's title: the page, then its run ("records · name · r1 — batchpipe view") */
export function setCrumbs(...items) {
  crumbs.replaceChildren();
  for (const [label, href] of items) append(crumbs, [" / ", href ? h("a", { href }, label) : label]);
  const labels = items.map(([label]) => label);
  const place = labels.length <= 2 ? labels.at(-1) : `${labels.at(-1)} · ${labels[1]}`;
  document.title = `${place} — batchpipe view`;
}

/** a run's label in the crumbs: its pipeline's name and its id */
export const runLabel = (name, r) => `${name} · ${r}`;

/** JSON as a collapsible tree: objects and arrays are <details>, leaves are text */
export function jsonTree(value, open = true) {
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

/** text as written; a string holding a JSON object or array is shown as a tree, and says so */
export function textBlock(value) {
  if (typeof value !== "string") return jsonTree(value);
  const json = parsedJson(value);
  if (json === undefined) return h("pre", { class: "text" }, value);
  return [h("p", { class: "muted" }, "text holding JSON, shown as a tree:"), jsonTree(json)];
}

/** the object or array a text holds, or undefined */
function parsedJson(text) {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return undefined;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}
