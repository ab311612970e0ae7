import fs from "node:fs";
import { StringDecoder } from "node:string_decoder";

/** Stream a file line by line (1-based numbers; a trailing "\r" is dropped). Never reads it whole. */
export async function* readLines(filePath: string): AsyncGenerator<{ line: string; lineNo: number }> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  let lineNo = 0;
  for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 256 * 1024 })) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    let nl = text.indexOf("\n", start);
    while (nl !== -1) {
      lineNo++;
      yield { line: trimCr(text.slice(start, nl)), lineNo };
      start = nl + 1;
      nl = text.indexOf("\n", start);
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield { line: trimCr(rest), lineNo: lineNo + 1 };
}

function trimCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
