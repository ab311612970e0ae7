// batchpipe view: the page's router. Pages: #/ runs · #/runs/P?offset=N (a pipeline's older runs) · #/run/P/R?batches=N · #/records/P/R?q&status&code ·
// #/record/P/R/REF · #/failures/P/R. The runs and run pages poll while shown, so a run in progress
// moves. Plain DOM, no framework, no build step.
import { api, h, nav, show } from "./dom.js";
import { failuresPage, recordPage, recordsPage } from "./records-pages.js";
import { runPage, runsPage } from "./runs-pages.js";

const live = document.getElementById("live");
const POLL_MS = 1500;
let timer;

// --- router ---

async function route() {
  clearTimeout(timer);
  const mine = ++nav.generation;
  const [pathPart, queryPart] = location.hash.replace(/^#/, "").split("?");
  const parts = (pathPart || "/").split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(queryPart ?? "");
  const pages = {
    runs: () => runsPage(parts[1], params),
    run: () => runPage(parts[1], parts[2], params),
    records: () => recordsPage(parts[1], parts[2], params),
    record: () => recordPage(parts[1], parts[2], parts[3]),
    failures: () => failuresPage(parts[1], parts[2]),
  };
  const page = pages[parts[0]] ?? runsPage;
  // finished runs move no more, but a new run may start: the runs pages keep polling
  const polls = page === runsPage || parts[0] === "runs";
  // a page of one pipeline that does not poll asks whether its spec is still listed
  const pipeline = page !== runsPage && parts[0] !== "runs" ? parts[1] : undefined;
  const listed = async () => {
    try {
      await api("/api/pipeline", { pipeline });
    } catch (error) {
      if (mine !== nav.generation) return;
      if (error.gone) return gone(error);
    }
    if (mine === nav.generation) timer = setTimeout(listed, POLL_MS);
  };
  // the page says its pipeline is gone (its own polling stops), and comes back if a spec is listed
  // again under its key (written back at its place)
  const gone = (error) => {
    const stopped = ++nav.generation;
    live.textContent = "";
    show(
      h("p", { class: "error", id: "gone" }, error.message),
      h("p", null, h("a", { href: "#/" }, "← all runs")),
    );
    const back = async () => {
      const found = await api("/api/pipeline", { pipeline }).then(
        () => true,
        () => false,
      );
      if (stopped !== nav.generation) return;
      if (found) route();
      else timer = setTimeout(back, POLL_MS);
    };
    timer = setTimeout(back, POLL_MS);
  };
  const tick = async () => {
    try {
      const again = await page();
      if (mine !== nav.generation) return;
      // null: the page keeps its own live mark and polls itself (a live run's records)
      if (again !== null) live.textContent = again ? "● live" : "";
      if (again || polls) timer = setTimeout(tick, POLL_MS);
      else if (pipeline !== undefined) timer = setTimeout(listed, POLL_MS);
    } catch (error) {
      if (mine !== nav.generation) return;
      if (error.gone) return gone(error);
      show(h("p", { class: "error" }, failure(error)));
      // a poll that failed (the viewer restarted, a moment's error) is tried again: a page that polls
      // keeps polling
      if (polls || live.textContent) timer = setTimeout(tick, POLL_MS);
    }
  };
  await tick();
}

/** what went wrong, in words: a fetch that found no viewer says so */
function failure(error) {
  return error instanceof TypeError
    ? "The viewer does not answer (stopped or restarting?): trying again every 1.5 s."
    : String(error.message ?? error);
}

window.addEventListener("hashchange", route);
route();
