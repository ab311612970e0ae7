/**
 * What the sink writes, named for `check`'s targets so that two entries writing one table are
 * refused before a run: the database as `postgres://host:port/database` (no user, no password: it
 * is shown in messages) and the table as `schema.table`. Compared as strings, so both are named
 * the one way pg would connect and PostgreSQL would resolve them.
 */
import type { PluginTarget } from "@batchpipe/core/plugin";
import { NAME_BYTES } from "./columns.js";

export function targetOf(
  o: { url: string; schema: string; table: string },
  env: Record<string, string | undefined>,
): PluginTarget[] {
  const database = databaseOf(o.url, env);
  if (database === undefined) return [];
  // the sink quotes both names, so PostgreSQL keeps their case: Results and results are two tables.
  // Identifiers are ASCII (the options' pattern), so a byte is a character.
  const part = `${o.schema.slice(0, NAME_BYTES)}.${o.table.slice(0, NAME_BYTES)}`;
  return [{ target: database, option: "url", part }];
}

// --- internal ---

/**
 * The server and database `url` reaches, filled in as pg (8.x, with pg-connection-string) fills
 * them: `?host=`/`?port=` over the URL's own, then PGHOST, PGPORT, PGUSER, PGDATABASE, then
 * localhost, 5432, and the user's name as the database. The host is in lower case (DNS names are
 * not case-sensitive) unless it is a socket folder. Two names of one server (localhost and
 * 127.0.0.1) stay two: telling them apart would take I/O, and `check` is pure. Undefined for a URL
 * pg could not parse either (opening the sink then reports it).
 */
function databaseOf(url: string, env: Record<string, string | undefined>): string | undefined {
  let parsed: URL;
  let noHost = false;
  try {
    parsed = new URL(url);
  } catch {
    // pg's own retry: `postgres://user@/db` has an empty host, which URL refuses
    try {
      parsed = new URL(url.replace("@/", "@h/"));
      noHost = true;
    } catch {
      return undefined;
    }
  }
  const params = parsed.searchParams;
  const user = params.get("user") || decodeComponent(parsed.username) || env.PGUSER || env.USER || "";
  const hostname = noHost ? "" : decodeComponent(parsed.hostname.replace(/^\[(.+)\]$/, "$1"));
  const host = params.get("host") || hostname || env.PGHOST || "localhost";
  const port = Number.parseInt(params.get("port") || parsed.port || env.PGPORT || "5432", 10);
  const database = decodePath(parsed.pathname.slice(1)) || env.PGDATABASE || user;
  const shownHost = host.startsWith("/")
    ? encodeURIComponent(host)
    : host.includes(":")
      ? `[${host.toLowerCase()}]`
      : host.toLowerCase();
  return `postgres://${shownHost}:${port}/${database}`;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** pg decodes the database with decodeURI: a %2F stays as it is */
function decodePath(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}
