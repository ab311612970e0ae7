/**
 * The sink's errors, with the connection URL's password kept out: messages name the server as
 * `postgres://user@host:port/db`, and anything the driver or the server says is redacted. The
 * driver's error is not kept as the cause (a --debug run prints causes).
 */
import { BatchpipeError } from "@batchpipe/core/plugin";

export type Redact = (text: string) => string;

const USERINFO = /^(postgres(?:ql)?:\/\/)([^@/?#]*)@/;
/** a password in any connection URL a message quotes ('/' ends the userinfo: it cannot be in one) */
const ANY_PASSWORD = /(postgres(?:ql)?:\/\/[^:@/\s]*):[^@\s/]*@/g;

/**
 * Removes the password of `url` from text: the userinfo's and a `?password=` parameter's (pg reads
 * both), raw and decoded. Only the password: the URL itself is no secret without it, and messages
 * name the server by it (a whole-URL needle blanked a URL without a password entirely).
 */
export function redactor(url: string): Redact {
  const secrets: string[] = [];
  const userinfo = url.match(USERINFO)?.[2] ?? "";
  const colon = userinfo.indexOf(":");
  if (colon !== -1) {
    const raw = userinfo.slice(colon + 1);
    secrets.push(raw);
    try {
      secrets.push(decodeURIComponent(raw));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  const query = url.split("#")[0]!.split("?")[1] ?? "";
  for (const param of query.split("&"))
    if (param.startsWith("password=")) secrets.push(param.slice("password=".length));
  secrets.push(...new URLSearchParams(query).getAll("password"));
  // shorter than 3 characters would blank ordinary text; a URL quoted whole still loses it below
  const needles = secrets.filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const needle of needles) out = out.split(needle).join("[redacted]");
    return out.replace(ANY_PASSWORD, "$1:[redacted]@");
  };
}

/** the URL without its password or query, for messages */
export function describeUrl(url: string): string {
  const [base] = url.split(/[?#]/);
  return base!.replace(
    USERINFO,
    (_, scheme: string, userinfo: string) => `${scheme}${userinfo.split(":")[0]}@`,
  );
}

/** query parameters whose value may hold an @ as it is */
const AT_IN_VALUE =
  /^(user|password|options|application_name|fallback_application_name|sslcert|sslkey|sslrootcert)=/;

const ENCODE_HINT =
  "Write it as postgres://user:password@host:5432/database with @ : / ? # in the user name or password percent-encoded (%40 %3A %2F %3F %23).";

/**
 * A user name or password with @ / ? or # written as it is: pg reads part of it as the host, port,
 * database or query, so it connects elsewhere and messages that name the server would show that
 * part. The query starts at the first ?; an @ after it is the userinfo's (1?a=b@host/db), unless it
 * is in the value of a parameter that may hold one (?user=me@corp, Azure's user@server names).
 */
export function unencodedUserinfo(url: string): boolean {
  const rest = url.replace(/^postgres(ql)?:\/\//, "");
  if (rest.includes("#")) return true;
  const start = rest.indexOf("?");
  const main = start === -1 ? rest : rest.slice(0, start);
  const query = start === -1 ? "" : rest.slice(start + 1);
  if (query.split("&").some((param) => param.includes("@") && !AT_IN_VALUE.test(param))) return true;
  const at = main.lastIndexOf("@");
  return at !== -1 && /[@/]/.test(main.slice(0, at));
}

export const unencodedProblem = {
  option: "url",
  message: "its user name or password holds @ / ? or # as it is, so part of it would be read as the server",
  hint: `${ENCODE_HINT.slice(0, -1)}: the password p?ss#1 is written p%3Fss%231 (encodeURIComponent in JavaScript).`,
};

/** pg could not parse the URL: the message does not quote it (a password may be anywhere in it) */
export function invalidUrl(error: unknown): BatchpipeError {
  return new BatchpipeError(
    "PLUGIN_FAILED",
    `the sink's url is not a connection URL pg can read (${describe(error)})`,
    {
      hint: ENCODE_HINT,
      plugin: "sink:postgres",
    },
  );
}

/** pg could not read a file the URL names (sslrootcert, sslcert, sslkey): a path is no secret */
export function unreadableFile(error: unknown, redact: Redact): BatchpipeError {
  return new BatchpipeError(
    "PLUGIN_FAILED",
    redact(`the sink's url names a file pg cannot read: ${describe(error)}`),
    {
      hint: "Check the paths of sslrootcert, sslcert and sslkey in the url (relative ones are read from the working directory).",
      plugin: "sink:postgres",
    },
  );
}

/** `hint` says what to do about this failure (a TLS one) when known */
export function connectionFailed(
  label: string,
  error: unknown,
  redact: Redact,
  hint?: string,
): BatchpipeError {
  const missing = missingDatabase(error);
  return new BatchpipeError("PLUGIN_FAILED", redact(`cannot connect to ${label}: ${describe(error)}`), {
    hint:
      hint ??
      (missing && redact(missing)) ??
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      "Check the sink's url (e.g. url: ${DATABASE_URL}), the password, and that the server accepts connections.",
    plugin: "sink:postgres",
  });
}

/** the server has no database of the url's name (3D000): the sink creates tables, not databases */
function missingDatabase(error: unknown): string | undefined {
  if ((error as { code?: unknown } | undefined)?.code !== "3D000") return undefined;
  const name = /database "(.+)" does not exist/.exec(String((error as Error).message))?.[1];
  return `The url names a database the server does not have: create it (${name ? `CREATE DATABASE "${name}"` : "CREATE DATABASE …"}, or createdb), or fix the database in the url (its path, after the port), then run again.`;
}

export function queryFailed(
  label: string,
  hook: string,
  error: unknown,
  redact: Redact,
  casts: readonly { name: string; type: string }[] = [],
): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  const code = (error as { code?: string } | undefined)?.code;
  // a value its column's type refused (22P02 …): the server does not say which column
  const type =
    code?.startsWith("22") && /for (?:type|enum) (.+?)(?::|$)/.exec(String((error as Error).message))?.[1];
  const columns = type ? casts.filter((c) => c.type === type).map((c) => c.name) : [];
  const which =
    columns.length > 0
      ? ` (the table's ${type} column${columns.length > 1 ? "s" : ""}: ${columns.join(", ")})`
      : "";
  return new BatchpipeError("PLUGIN_FAILED", redact(`${label}: ${hook} failed: ${describe(error)}${which}`), {
    hint: `${
      which
        ? `A row's value does not fit its column's type: change the column's type (e.g. to jsonb or text) or leave it out of the sink's columns, then run again`
        : (code && HINTS[code]?.(String((error as Error).message))) ||
          "Fix the database problem and run again"
    }: the run resumes from its last commit.`,
    plugin: "sink:postgres",
  });
}

// --- internal ---

const LOST =
  "The connection to the server was lost (a restart, or its session was ended): run again once it accepts connections";
/** what to do about the server errors a run meets (SQLSTATE codes), from the server's message */
const HINTS: Record<string, (message: string) => string> = {
  "57P01": () => LOST,
  "57P02": () => LOST,
  "57P03": () => LOST,
  // the sink creates a missing table, not its schema
  "3F000": (message) => {
    const schema = /schema "(.+)" does not exist/.exec(message)?.[1];
    // an unquoted CREATE SCHEMA Staging made staging
    const lower = schema?.toLowerCase();
    const twin =
      schema && lower !== schema
        ? ` (the sink quotes schema: ${schema}, so its case counts: an unquoted CREATE SCHEMA ${schema} made ${lower}; to use that one, set schema: ${lower})`
        : "";
    return `The sink's schema does not exist${twin}: create it (${schema ? `CREATE SCHEMA "${schema}"` : "CREATE SCHEMA …"}), or set schema to one that exists (default public), then run again`;
  },
  "57014": () =>
    "The server cancelled a statement of the sink (up to 2,000 rows at a time): the role's statement_timeout is too short for it. Raise it (ALTER ROLE … SET statement_timeout = '5min'), or for the sink's session only, in its url: ?options=-c%20statement_timeout%3D0; then run again",
  "25P03": () =>
    "The server ended the sink's session: the sink keeps one transaction open from a delivery's first write to its commit, longer than the role's idle_in_transaction_session_timeout. Raise it, or for the sink's session only, in its url: ?options=-c%20idle_in_transaction_session_timeout%3D0; then run again",
  // a hot standby (read replica), or default_transaction_read_only on for the role or database
  "25006": () =>
    "The server takes no writes in the sink's session: it is a read replica (hot standby), or default_transaction_read_only is on for the role or the database. Point url at the primary, or turn it off (ALTER ROLE … SET default_transaction_read_only = off; for the sink's session only, in its url: ?options=-c%20default_transaction_read_only%3Doff), then run again",
  "42501": () => "Grant the sink's role what it lacks (or name a table it may write), then run again",
};

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, detail } = error as Error & { code?: string; detail?: string };
  const message = error.message || (error as AggregateError).errors?.map(String).join("; ") || error.name;
  return [message, code ? `(${code})` : "", detail ? `— ${detail}` : ""].filter(Boolean).join(" ");
}
