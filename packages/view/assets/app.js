// batchpipe view: the page's router. Pages: #/ runs · #/runs/P?offset=N (a pipeline's older runs) · #/run/P/R · #/records/P/R?q&status&code ·
// #/record/P/R/REF · #/failures/P/R. The runs and run pages poll while shown, so a run in progress
// moves. Plain DOM, no framework, no build step.
import { h, nav, show } from "./dom.js";
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
    run: () => runPage(parts[1], parts[2]),
    records: () => recordsPage(parts[1], parts[2], params),
    record: () => recordPage(parts[1], parts[2], parts[3]),
    failures: () => failuresPage(parts[1], parts[2]),
  };
  const page = pages[parts[0]] ?? runsPage;
  // finished runs move no more, but a new run may start: the runs pages keep polling
  const polls = page === runsPage || parts[0] === "runs";
  const tick = async () => {
    try {
      const again = await page();
      if (mine !== nav.generation) return;
      // null: the page keeps its own live mark and polls itself (a live run's records)
      if (again !== null) live.textContent = again ? "● live" : "";
      if (again || polls) timer = setTimeout(tick, POLL_MS);
    } catch (error) {
      if (mine !== nav.generation) return;
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
