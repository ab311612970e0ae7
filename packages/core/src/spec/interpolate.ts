/**
 * `${VAR}` and `${VAR:-default}` inside string values. The default applies when VAR is unset or
 * empty; `$${` writes a literal `${`. A plain YAML scalar that is exactly one reference keeps the
 * type of what it becomes (`max_requests: ${N}` with N=100 is the number 100).
 */

export type Env = Record<string, string | undefined>;

export interface InterpolationProblem {
  /** offset of the reference inside the string */
  index: number;
  message: string;
  hint: string;
}

export interface Interpolated {
  value: string;
  problems: InterpolationProblem[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function hasReference(text: string): boolean {
  return text.includes("${");
}

/** whether `text` is exactly one `${VAR}` or `${VAR:-default}` reference */
export function isSingleReference(text: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(text.trim());
}

export function interpolate(text: string, env: Env): Interpolated {
  const problems: InterpolationProblem[] = [];
  const value = text.replace(REFERENCE, (match: string, inner: string | undefined, index: number) => {
    if (match === "$${") return "${";
    if (!match.endsWith("}")) {
      problems.push({
        index,
        message: "unclosed ${ in a variable reference",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
        hint: "write ${VAR}, or $${ for a literal ${",
      });
      return match;
    }
    const body = inner ?? "";
    const separator = body.indexOf(":-");
    const name = separator === -1 ? body : body.slice(0, separator);
    if (!NAME.test(name)) {
      problems.push({
        index,
        message: `"${match}" is not a valid variable reference`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
        hint: "write ${NAME} or ${NAME:-default} with a name of letters, digits and _, or $${ for a literal ${",
      });
      return match;
    }
    const found = env[name];
    if (separator !== -1 && (found === undefined || found === "")) return body.slice(separator + 2);
    if (found === undefined) {
      problems.push({
        index,
        message: `environment variable ${name} is not set`,
        hint: `export ${name}=... before running, or give a default: \${${name}:-value}`,
      });
      return "";
    }
    return found;
  });
  return { value, problems };
}

/** the scalar a plain YAML value would have been had the text been written in the file */
export function coercePlainScalar(text: string): string | number | boolean | null {
  if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text === "null" || text === "~") return null;
  return text;
}
