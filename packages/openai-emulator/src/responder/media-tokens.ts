/**
 * Input tokens of the media parts of a message's content (images, PDFs and other files, audio), by
 * the rules batchpipe's estimate uses (@batchpipe/core estimate/media-tokens.ts, README "How media
 * is estimated"; the emulator's main entry does not load core, so this is its own small copy):
 *
 * - Images: a fixed figure each (image-tokens.ts).
 * - PDFs (OpenAI chat `file` / Responses `input_file` with `file_data`, Anthropic `document` with a
 *   base64 source): both providers bill a page as its extracted text and an image of the page
 *   (docs.claude.com/en/docs/build-with-claude/pdf-support: "each page [is converted] into an
 *   image", the text extracted beside it; developers.openai.com/docs/guides/pdf-files: "both the
 *   extracted text and an image of each page"). A page counts 3,000 tokens plus the model's image
 *   of unknown size (gpt-4o 765, gpt-4o-mini 25,501, Claude 1,600). Pages are the PDF's
 *   `/Type /Page` objects; a PDF that keeps them in compressed object streams (none visible)
 *   counts a page per 32 KB, at least one.
 * - Other files: text media (`text/*`, JSON, XML) count as their text, the rest 0.25 tokens a byte;
 *   an image file as an image. A file given by id or URL is not in the request: 0 (as before).
 * - Audio (`input_audio`): 10 tokens a second, the rate third-party estimators use for GPT-4o audio
 *   input (OpenAI publishes no per-second figure); a WAV's duration from its header (data bytes /
 *   byte rate), other formats' from their size at 32 kbps (4,000 bytes a second).
 *
 * Media is decoded only as far as these rules need: a PDF once, to count its pages.
 */
// tokens.ts imports this module too: the cycle only joins function declarations, used at call time
import { ANTHROPIC_IMAGE_TOKENS, openaiImageTokens } from "./image-tokens.js";
import { estimateTextTokens } from "./tokens.js";

const PDF_PAGE_TEXT_TOKENS = 3000;
const PDF_BYTES_PER_PAGE = 32 * 1024;
const BINARY_FILE_TOKENS_PER_BYTE = 0.25;
const AUDIO_TOKENS_PER_SECOND = 10;
const COMPRESSED_AUDIO_BYTES_PER_SECOND = 4000;

type Provider = "openai" | "anthropic";

/** The media tokens of a content (a string, or an array of parts that may nest `content`). */
export function mediaTokens(content: unknown, model: string | undefined): number {
  if (!Array.isArray(content)) return 0;
  let sum = 0;
  for (const part of content) {
    if (!isObject(part)) continue;
    switch (part.type) {
      case "image_url": {
        const image = part.image_url;
        sum += openaiImageTokens(isObject(image) ? image.detail : part.detail, model);
        break;
      }
      case "input_image":
        sum += openaiImageTokens(part.detail, model);
        break;
      case "image":
        sum += ANTHROPIC_IMAGE_TOKENS;
        break;
      case "file": {
        const data = isObject(part.file) ? part.file.file_data : undefined;
        if (typeof data === "string") sum += dataUrlTokens(data, model);
        break;
      }
      case "input_file":
        if (typeof part.file_data === "string") sum += dataUrlTokens(part.file_data, model);
        break;
      case "input_audio": {
        const audio = part.input_audio;
        if (isObject(audio) && typeof audio.data === "string")
          sum += audioTokens(audio.data, typeof audio.format === "string" ? audio.format : "");
        break;
      }
      case "document": {
        const source = part.source;
        if (isObject(source)) sum += documentTokens(source, model);
        break;
      }
      default:
        if (part.content !== undefined) sum += mediaTokens(part.content, model);
    }
  }
  return sum;
}

/** an Anthropic document block's source: PDF or other base64 data, or text */
function documentTokens(source: Record<string, unknown>, model: string | undefined): number {
  if (typeof source.data !== "string") return 0;
  if (source.type === "text") return estimateTextTokens(source.data);
  if (source.type !== "base64") return 0;
  const mediaType = typeof source.media_type === "string" ? source.media_type : "application/pdf";
  return fileTokens(mediaType, source.data, model, "anthropic");
}

/** OpenAI's `file_data`: a data URL (`data:<type>;base64,<data>`); anything else is not counted */
function dataUrlTokens(url: string, model: string | undefined): number {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0 || comma > 256) return 0;
  const header = url.slice(5, comma);
  if (!header.endsWith(";base64")) return 0;
  const mediaType = header.slice(0, header.indexOf(";")).toLowerCase();
  return fileTokens(mediaType, url.slice(comma + 1), model, "openai");
}

function fileTokens(mediaType: string, b64: string, model: string | undefined, provider: Provider): number {
  if (mediaType === "application/pdf") {
    const bytes = Buffer.from(b64, "base64");
    const pages = pdfPages(bytes) || Math.ceil(bytes.length / PDF_BYTES_PER_PAGE);
    return Math.max(1, pages) * (PDF_PAGE_TEXT_TOKENS + imageOf(model, provider));
  }
  if (mediaType.startsWith("image/")) return imageOf(model, provider);
  if (isTextMedia(mediaType)) return estimateTextTokens(Buffer.from(b64, "base64").toString("utf8"));
  return Math.ceil(decodedLength(b64) * BINARY_FILE_TOKENS_PER_BYTE);
}

function imageOf(model: string | undefined, provider: Provider): number {
  return provider === "anthropic" ? ANTHROPIC_IMAGE_TOKENS : openaiImageTokens("high", model);
}

/** a PDF's `/Type /Page` objects (not `/Pages`); 0 when they sit in compressed object streams */
function pdfPages(bytes: Buffer): number {
  let pages = 0;
  let at = bytes.indexOf("/Type");
  while (at >= 0) {
    let i = at + 5;
    while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) i++;
    if (bytes.toString("latin1", i, i + 5) === "/Page" && !isNameChar(bytes[i + 5])) pages++;
    at = bytes.indexOf("/Type", i);
  }
  return pages;
}

/** a byte that continues a PDF name (`/Pages` is not `/Page`) */
function isNameChar(byte: number | undefined): boolean {
  if (byte === undefined) return false;
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function audioTokens(b64: string, format: string): number {
  const seconds =
    (format === "wav" ? wavSeconds(b64) : undefined) ??
    decodedLength(b64) / COMPRESSED_AUDIO_BYTES_PER_SECOND;
  return Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
}

/** a PCM WAV's duration: its `data` chunk over the `fmt ` chunk's byte rate (undefined: not a WAV) */
function wavSeconds(b64: string): number | undefined {
  // the chunks before `data` are small: the first KB holds them
  const head = Buffer.from(b64.slice(0, 1368), "base64");
  const total = decodedLength(b64);
  if (
    head.length < 12 ||
    head.toString("latin1", 0, 4) !== "RIFF" ||
    head.toString("latin1", 8, 12) !== "WAVE"
  )
    return undefined;
  let byteRate = 0;
  let offset = 12;
  while (offset + 8 <= head.length) {
    const id = head.toString("latin1", offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    if (id === "fmt " && offset + 20 <= head.length) byteRate = head.readUInt32LE(offset + 16);
    if (id === "data") {
      if (byteRate <= 0) return undefined;
      // a streamed WAV may leave the size at 0 or 0xffffffff: what is there counts
      const data = size === 0 || size > total - offset - 8 ? total - offset - 8 : size;
      return data / byteRate;
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

/** the decoded length of base64 text (ignoring its padding), without decoding it */
function decodedLength(b64: string): number {
  let end = b64.length;
  while (end > 0 && b64.charCodeAt(end - 1) === 61 /* = */) end--;
  return Math.floor((end * 3) / 4);
}

function isTextMedia(mediaType: string): boolean {
  return (
    mediaType.startsWith("text/") ||
    mediaType === "application/json" ||
    mediaType === "application/xml" ||
    mediaType.endsWith("+json") ||
    mediaType.endsWith("+xml")
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
