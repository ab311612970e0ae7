/**
 * The prompt transform's LiquidJS: strict, machine-independent (`date` in UTC, objects as their
 * JSON) and without file access; and the checks a spec's templates get before any record is read.
 */
import { Liquid, Tag, type TagToken, type TopLevelToken } from "liquidjs";
import type { z } from "../plugin.js";

export const liquid = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  ownPropertyOnly: true,
  // a prompt must not depend on the machine: `date` shows UTC, not the host's time zone (the
  // request body is the result cache's key, and the same data must ask the same everywhere)
  timezoneOffset: 0,
  // an object or array inside text is its JSON, not "[object Object]" or its items run together
  outputEscape: (value: unknown) => {
    if (value === null || value === undefined) return "";
    if (value instanceof Date) return value.toISOString();
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  },
});
/** an ISO date and time without an offset, which JavaScript would read in the host's time zone */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
/** ISO dates, which JavaScript reads as UTC, and Liquid's own words and unix seconds */
const READ_AS_UTC = /^(\d{4}-\d{2}(-\d{2})?|\d+|now|today)$/;
/** a zone of the text's own: Z, UTC, GMT, a US zone's abbreviation, or an offset at the end */
const ZONE = /\b(UTC?|GMT|Z|[ECMP][SD]T)\b|\d[Zz]$|[+-]\d{2}:?\d{2}(\s*\([^)]*\))?$/i;

/**
 * Text that JavaScript reads in the host's time zone ("2024-03-01 10:00", and the forms of
 * spreadsheet exports: "3/1/2024", "Mar 1, 2024 10:00 PM") read as UTC instead; other values as
 * they are. Without it a record renders another day east or west of UTC ("3/1/2024" in Tokyo is
 * 2024-02-29 15:00 UTC).
 */
function utcDate(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (READ_AS_UTC.test(text) || ZONE.test(text)) return value;
  if (LOCAL_DATE_TIME.test(text)) return `${text.replace(" ", "T")}Z`;
  const time = Date.parse(`${text} UTC`);
  return Number.isNaN(time) ? value : new Date(time).toISOString();
}
// every filter that reads a date
for (const name of ["date", "date_to_xmlschema", "date_to_rfc822", "date_to_string", "date_to_long_string"]) {
  const filter = liquid.filters[name] as (...args: unknown[]) => unknown;
  liquid.registerFilter(name, function (this: unknown, value: unknown, ...args: unknown[]) {
    return filter.call(this, utcDate(value), ...args);
  });
}

/** a template reads the record, never a file: the tags that would read one fail to parse */
class NoFileTag extends Tag {
  constructor(token: TagToken, remain: TopLevelToken[], engine: Liquid) {
    super(token, remain, engine);
    throw new Error(
      `{% ${token.name} %} is not available: templates cannot read files; write the text into the template`,
    );
  }
  render(): void {}
}
for (const name of ["include", "render", "layout"]) liquid.registerTag(name, NoFileTag);

/** every `{{ … }}` of a template; group 1 is the expression */
export const OUTPUT = /\{\{([\s\S]*?)\}\}/g;

export function isTemplate(text: string): boolean {
  return text.includes("{{") || text.includes("{%");
}

/** the `id` and every string of `body` parse, and no output is a literal that renders nothing */
export function checkTemplates(options: { id: string; body: unknown }, ctx: z.RefinementCtx): void {
  checkTemplate(options.id, ["id"], ctx);
  walkStrings(options.body, ["body"], (text, path) => checkTemplate(text, path, ctx));
}

function walkStrings(
  node: unknown,
  path: (string | number)[],
  visit: (text: string, path: (string | number)[]) => void,
) {
  if (typeof node === "string") visit(node, path);
  else if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) walkStrings(item, [...path, index], visit);
  } else if (node !== null && typeof node === "object")
    for (const [key, value] of Object.entries(node)) walkStrings(value, [...path, key], visit);
}

function checkTemplate(text: string, path: (string | number)[], ctx: z.RefinementCtx) {
  if (!isTemplate(text)) return;
  try {
    liquid.parse(text);
  } catch (error) {
    const message =
      error instanceof Error ? error.message.replace(/, line:\d+, col:\d+$/, "") : String(error);
    ctx.addIssue({ code: "custom", path, message: `invalid template: ${message}`, input: text });
    return;
  }
  for (const match of text.matchAll(OUTPUT)) {
    const word = LITERAL_OUTPUT.exec(match[1]!)?.[1];
    if (word)
      ctx.addIssue({
        code: "custom",
        path,
        message: `{{${match[1]}}} outputs Liquid's literal \`${word}\` (always nothing), not the record's field "${word}": for that field write {{ ["${word}"] }}`,
        input: text,
      });
  }
}

/** an output that starts with a literal rendering nothing; a field of that name needs ["name"] */
const LITERAL_OUTPUT = /^\s*(nil|null|empty|blank)\s*(?:$|[.|[])/;
