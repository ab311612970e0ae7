/**
 * The text sources read UTF-8 (csv also latin1): a UTF-16 file would fail every line as invalid
 * ("not valid UTF-8", `Unexpected token '\u0000'`) without a word on why. `refuseUtf16` looks at a
 * file's first bytes once and stops the read with what to do.
 */
import { BatchpipeError, ErrorCodes } from "./errors.js";

/**
 * Throws SOURCE_FAILED when `start` (a file's first bytes) is UTF-16: a UTF-16 byte order mark, or
 * (without one) an ASCII character then a zero byte, or the reverse (`{\0"\0` of a UTF-16LE JSON line).
 */
export function refuseUtf16(file: string, start: Buffer, o: { plugin: string; ext: string }): void {
  const [a, b] = [start[0], start[1]];
  const bom = (a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff);
  const ascii = (byte: number | undefined) => byte !== undefined && byte >= 0x20 && byte < 0x7f;
  if (!bom && !(ascii(a) && b === 0) && !(a === 0 && ascii(b))) return;
  throw new BatchpipeError(
    ErrorCodes.SOURCE_FAILED,
    `${file} is UTF-16 (${bom ? "it starts with a UTF-16 byte order mark" : "every other byte of its start is zero"})`,
    {
      loc: { file, line: 1, column: 1 },
      hint: `Convert it to UTF-8 first, e.g. \`iconv -f UTF-16 -t UTF-8 in.${o.ext} > out.${o.ext}\`.`,
      plugin: o.plugin,
    },
  );
}
