/**
 * sslmode as libpq reads it. pg 8 (pg-connection-string 2) reads prefer, require and verify-ca as
 * verify-full, and warns about it on stderr (process.emitWarning) once a process; with
 * `uselibpqcompat=true` in the URL it gives them libpq's meanings and warns about nothing: require
 * encrypts without verifying (verify-ca when sslrootcert is given, as in libpq), verify-ca checks
 * the chain but not the host name, verify-full both. The sink adds that parameter to the URL it
 * hands pg. pg has no fallback for prefer (it then encrypts without verifying, or fails on a
 * server without TLS): the sink connects again without TLS, as libpq does. PGSSLMODE, which
 * libpq reads when the URL has no sslmode, is read the same way.
 */
import type { PluginProblem } from "@batchpipe/core/plugin";

/** libpq's, less allow (try a plain connection first: pg has no way to) */
const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/**
 * The URL pg is given: libpq's sslmode meanings, and `sslmode` over the URL's own when given (pg
 * reads PGSSLMODE only when the URL has no sslmode, with its own meanings: the sink passes it here)
 */
export function libpqUrl(url: string, sslmode?: string): string {
  const hash = url.indexOf("#");
  const base = withoutSystemRoot(hash === -1 ? url : url.slice(0, hash));
  const added = `uselibpqcompat=true${sslmode ? `&sslmode=${encodeURIComponent(sslmode)}` : ""}`;
  // pg reads the last of a repeated parameter: these win over the URL's own
  return `${base}${base.includes("?") ? "&" : "?"}${added}${hash === -1 ? "" : url.slice(hash)}`;
}

/**
 * the URL's sslmode as pg reads it (the last one), else PGSSLMODE's, as libpq reads them; with
 * sslrootcert=system and neither, verify-full (libpq's default then)
 */
export function sslmodeOf(url: string, env: Record<string, string | undefined>): string | undefined {
  const query = queryOf(url);
  return (
    query.getAll("sslmode").at(-1) ??
    (env.PGSSLMODE || (query.get("sslrootcert") === SYSTEM_ROOT ? "verify-full" : undefined))
  );
}

/** check's problems with the URL's TLS parameters: pure, before anything connects */
export function sslProblems(url: string, env: Record<string, string | undefined>): PluginProblem[] {
  const mode = sslmodeOf(url, env);
  const named = queryOf(url).has("sslmode") ? "sslmode" : "PGSSLMODE";
  if (mode !== undefined && !SSL_MODES.includes(mode)) {
    return [
      {
        option: "url",
        message: `${named}=${mode.slice(0, 40)} is not an sslmode the sink knows`,
        hint: `Use one of ${SSL_MODES.join(", ")} (libpq's meanings)${
          mode === "no-verify"
            ? ": for pg's no-verify, sslmode=require encrypts without verifying the server"
            : mode === "allow"
              ? ": allow (a plain connection first) is not supported; prefer tries TLS first"
              : ""
        }.`,
      },
    ];
  }
  // libpq refuses a weaker mode with the system's CAs: they would check nothing that matters
  if (queryOf(url).get("sslrootcert") === SYSTEM_ROOT && mode !== "verify-full") {
    return [
      {
        option: "url",
        message: `sslrootcert=system needs sslmode=verify-full (${named}=${mode?.slice(0, 40)})`,
        hint: "Use sslmode=verify-full with sslrootcert=system (or leave sslmode out: it is then verify-full), as libpq requires.",
      },
    ];
  }
  // pg-connection-string refuses it at open; libpq would read ~/.postgresql/root.crt
  if (mode === "verify-ca" && !queryOf(url).get("sslrootcert")) {
    return [
      {
        option: "url",
        message: "sslmode=verify-ca needs sslrootcert: the CA the server's certificate is checked against",
        hint: "Add the CA's certificate file as sslrootcert=/path/to/root.crt to the url, or use sslmode=verify-full to check the server against this machine's trusted CAs.",
      },
    ];
  }
  return [];
}

/** the server answered the TLS request with no: prefer connects again without */
export function isNoTls(error: unknown): boolean {
  return error instanceof Error && error.message === NO_TLS;
}

/** what to do about a TLS failure to connect with `sslmode`, or undefined for another failure */
export function tlsHint(error: unknown, mode = "verify-full"): string | undefined {
  if (isNoTls(error))
    return "The server does not accept TLS connections: use sslmode=disable (or prefer) in the url, or turn ssl on at the server.";
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string") return undefined;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return `The server's certificate does not name the host the url connects to (sslmode=${mode} checks it): connect by a name the certificate holds, or use sslmode=verify-ca to check the certificate but not the host name.`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code))
    return `The server's certificate could not be verified (sslmode=${mode} checks it against this machine's trusted CAs, or the url's sslrootcert): give the certificate of the CA that signed it as sslrootcert=/path/to/root.crt in the url, or use sslmode=require to encrypt without verifying the server.`;
  return undefined;
}

// --- internal ---

/**
 * libpq's sslrootcert=system (PostgreSQL 16): the trusted CAs of the system, not a file. pg would
 * read a file named "system"; without sslrootcert it verifies against Node's trusted CAs (its
 * bundled list, NODE_EXTRA_CA_CERTS, or the system's with --use-openssl-ca), so the sink leaves it out.
 */
const SYSTEM_ROOT = "system";

function withoutSystemRoot(url: string): string {
  const start = url.indexOf("?");
  if (start === -1) return url;
  const kept = url
    .slice(start + 1)
    .split("&")
    .filter((param) => param !== `sslrootcert=${SYSTEM_ROOT}`);
  return `${url.slice(0, start)}${kept.length > 0 ? `?${kept.join("&")}` : ""}`;
}

/** pg's error (lib/connection.js) when the server answers the TLS request with N */
const NO_TLS = "The server does not support SSL connections";

function queryOf(url: string): URLSearchParams {
  const query = url.split("#")[0]!;
  const start = query.indexOf("?");
  return new URLSearchParams(start === -1 ? "" : query.slice(start + 1));
}
