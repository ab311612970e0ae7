/**
 * Input tokens of the media parts of a request (images, PDFs and other files, audio), from what
 * their headers tell offline (media-size.ts), never from their base64 text: counted as text, a 1 MB
 * image came to ~750,000 tokens, where a provider bills it a few hundred to a few thousand. Every
 * figure errs high where the rule is not known exactly. The rules (README.md, "How media is estimated", says the same):
 *
 * - OpenAI images (chat `image_url`, Responses `input_image`): the published rules of
 *   platform.openai.com/docs/guides/images-vision ("Calculating costs"). Tiles: detail "low" is the
 *   base figure; "high"/"auto" fits the image in 2048×2048, scales its shortest side down to 768 and
 *   adds a tile figure per 512 px tile (85 + 170 a tile: 765 for 1024×1024, 1105 for 2048×4096).
 *   gpt-4o-mini bills images at 2833 + 5667 a tile, about gpt-4o's price at its lower token price
 *   (measured: 2845 input tokens at "low" and 8512 at "high" for a 128×64 image with five words of
 *   text, community.openai.com/t/vision-more-than-one-way-to-send-a-request-undocumented-and-
 *   different-pricing-realized/1262691; pictoken's notes say the same). That is a pricing rule
 *   (33× gpt-4o's tokens at 1/33 of its token price): the context-window check counts such an image
 *   as gpt-4o's (billedOnlyMediaTokens); cost and the queue budget count what is billed. Patch models (gpt-4.1-mini
 *   /-nano, gpt-5-mini/-nano, o4-mini): 32 px patches, at most 1536, times 1.62 / 2.46 / 1.72 (the
 *   docs' multipliers; gpt-5-mini/-nano were measured billed lower, 1.2 / 1.5, never higher),
 *   whatever the detail. An image of unknown size (a URL, a file id, an unreadable header) counts
 *   as 1024×1024.
 * - Anthropic images (`image` blocks): tokens = width × height / 750 after the resize described in
 *   docs.anthropic.com/en/docs/build-with-claude/vision ("Evaluate image size", "Calculate image
 *   costs"): the long edge to at most 1568 px and at most ~1,600 tokens (~1.15 MP). Claude Opus 4.7
 *   and later take up to 2576 px and ~3.75 MP (as reported at its release; third-party
 *   count_tokens measures put them at ⌈w/28⌉×⌈h/28⌉, at most 4,784): here w × h / 750, at most
 *   5,000, which is higher; models not known to be older get that bound. An image of unknown size
 *   counts as the largest the model takes.
 * - PDFs (Anthropic `document`, OpenAI `file` / `input_file` data): both providers bill a page as its
 *   text and an image of it (docs.claude.com/en/docs/build-with-claude/pdf-support: "each page
 *   [is converted] into an image", text extracted beside it; a 3-page PDF ~7,000 tokens). A page
 *   counts 3,000 tokens and the model's image of unknown size; pages are the PDF's `/Type /Page`
 *   objects, or, when it keeps them in compressed object streams, one page per 32 KB of the file
 *   (~0.14 tokens a byte for Claude and gpt-4o, where its base64 counted as text came to ~0.75).
 * - Other files: text media types are decoded and counted as text; others 0.25 tokens a byte.
 * - Audio (`input_audio`): 10 tokens a second (the rate third-party estimators use for GPT-4o
 *   audio input; OpenAI's docs give no per-second figure); a WAV's duration from its header, an
 *   MP3's (or other format's) from its size at 32 kbps, a low bitrate, so a long duration. Audio
 *   tokens are priced above text tokens; the cost projection prices them as text.
 */
import {
  type Base64Text,
  decodedLength,
  imageSize,
  parseDataUrl,
  pdfPages,
  wavSeconds,
} from "./media-size.js";

type Count = (text: string) => number;

/** a part's media input tokens, or undefined when it is not a media part (count it as text) */
export function mediaPartTokens(
  part: Record<string, unknown>,
  model: string | undefined,
  count: Count,
): number | undefined {
  switch (part.type) {
    case "image_url": {
      const image = part.image_url;
      const url = isObject(image) ? image.url : image;
      const detail = isObject(image) ? image.detail : part.detail;
      return openaiImageTokens(typeof url === "string" ? url : undefined, detail, model);
    }
    case "input_image":
      return openaiImageTokens(
        typeof part.image_url === "string" ? part.image_url : undefined,
        part.detail,
        model,
      );
    case "image":
      return isObject(part.source) ? anthropicImageTokens(part.source, model) : undefined;
    case "document":
      return isObject(part.source) ? documentTokens(part, part.source, model, count) : undefined;
    case "file": {
      const data = isObject(part.file) ? part.file.file_data : undefined;
      return typeof data === "string" ? fileTokens(data, model, count) : undefined;
    }
    case "input_file":
      return typeof part.file_data === "string" ? fileTokens(part.file_data, model, count) : undefined;
    case "input_audio": {
      const audio = isObject(part.input_audio) ? part.input_audio : undefined;
      if (!audio || typeof audio.data !== "string") return undefined;
      return audioTokens(
        { text: audio.data, start: 0 },
        typeof audio.format === "string" ? audio.format : "",
      );
    }
    default:
      return undefined;
  }
}

/**
 * The input tokens a request's media are billed for beyond what they take of the context window:
 * gpt-4o-mini's images are billed at 2833 + 5667 a tile, ~33× gpt-4o's 85 + 170, gpt-4o's price at
 * its ~33× lower token price (a pricing rule: openai.com/api/pricing lists the image price beside
 * the token price; the model sees the image as gpt-4o does). 0 for other models.
 */
export function billedOnlyMediaTokens(body: Record<string, unknown>, model: string): number {
  if (!model.startsWith("gpt-4o-mini")) return 0;
  let extra = 0;
  const none = () => 0;
  for (const list of [body.messages, body.input]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const content = isObject(item) && Array.isArray(item.content) ? item.content : [item];
      for (const part of content) {
        if (!isObject(part)) continue;
        const billed = mediaPartTokens(part, model, none);
        if (billed !== undefined) extra += billed - (mediaPartTokens(part, "gpt-4o", none) ?? 0);
      }
    }
  }
  return extra;
}

// ---- OpenAI images

type OpenAIRule = { tiles: { base: number; tile: number } } | { patches: number };

const TILES: OpenAIRule = { tiles: { base: 85, tile: 170 } };
const GPT_4O_MINI: OpenAIRule = { tiles: { base: 2833, tile: 5667 } };
const MAX_PATCHES = 1536;

function openaiRule(model: string | undefined): OpenAIRule {
  if (model === undefined) return TILES;
  if (model.startsWith("gpt-4o-mini")) return GPT_4O_MINI;
  if (model.startsWith("gpt-4.1-mini") || model.startsWith("gpt-5-mini")) return { patches: 1.62 };
  if (model.startsWith("gpt-4.1-nano") || model.startsWith("gpt-5-nano")) return { patches: 2.46 };
  if (model.startsWith("o4-mini")) return { patches: 1.72 };
  return TILES;
}

function openaiImageTokens(url: string | undefined, detail: unknown, model: string | undefined): number {
  const data = url === undefined ? undefined : parseDataUrl(url);
  return openaiImageTokensOfSize((data && imageSize(data.data)) ?? UNKNOWN_SIZE, detail, model);
}

const UNKNOWN_SIZE = { width: 1024, height: 1024 };

export function openaiImageTokensOfSize(
  size: { width: number; height: number },
  detail: unknown,
  model: string | undefined,
): number {
  const rule = openaiRule(model);
  if ("patches" in rule) {
    const patches = Math.ceil(size.width / 32) * Math.ceil(size.height / 32);
    return Math.ceil(Math.min(patches, MAX_PATCHES) * rule.patches);
  }
  const { base, tile } = rule.tiles;
  if (detail === "low") return base;
  let { width, height } = size;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const shortest = Math.min(1, 768 / Math.min(width, height));
  width *= shortest;
  height *= shortest;
  return base + tile * Math.ceil(Math.floor(width) / 512) * Math.ceil(Math.floor(height) / 512);
}

// ---- Anthropic images

/** models before Opus 4.7 (long edge 1568 px, ~1,600 tokens); later and unknown ones take more */
const CLAUDE_STANDARD_VISION =
  /^claude-(?:instant|2|3)|^claude-(?:opus|sonnet|haiku)-4(?:-[0-6])?(?:$|-\d{8}|-latest|@)/;

function claudeBounds(model: string | undefined): { edge: number; tokens: number } {
  return model !== undefined && CLAUDE_STANDARD_VISION.test(model)
    ? { edge: 1568, tokens: 1600 }
    : { edge: 2576, tokens: 5000 };
}

function anthropicImageTokens(source: Record<string, unknown>, model: string | undefined): number {
  const size =
    source.type === "base64" && typeof source.data === "string"
      ? imageSize({ text: source.data, start: 0 })
      : undefined;
  return size ? anthropicImageTokensOfSize(size, model) : claudeBounds(model).tokens;
}

export function anthropicImageTokensOfSize(
  size: { width: number; height: number },
  model: string | undefined,
): number {
  const bounds = claudeBounds(model);
  const scale = Math.min(1, bounds.edge / Math.max(size.width, size.height));
  const tokens = Math.ceil((size.width * scale * size.height * scale) / 750);
  return Math.min(tokens, bounds.tokens);
}

// ---- documents and files

const PDF_PAGE_TEXT_TOKENS = 3000;
const PDF_BYTES_PER_PAGE = 32 * 1024;
const BINARY_FILE_TOKENS_PER_BYTE = 0.25;

function documentTokens(
  part: Record<string, unknown>,
  source: Record<string, unknown>,
  model: string | undefined,
  count: Count,
): number | undefined {
  let total = 0;
  if (typeof part.title === "string") total += count(part.title);
  if (typeof part.context === "string") total += count(part.context);
  if (source.type === "text" && typeof source.data === "string") return total + count(source.data);
  if (source.type === "content") {
    const content = source.content;
    if (typeof content === "string") return total + count(content);
    if (!Array.isArray(content)) return total;
    for (const block of content) {
      if (!isObject(block)) continue;
      total +=
        typeof block.text === "string" ? count(block.text) : (mediaPartTokens(block, model, count) ?? 0);
    }
    return total;
  }
  if (source.type === "base64" && typeof source.data === "string") {
    const mediaType = typeof source.media_type === "string" ? source.media_type : "application/pdf";
    return total + base64FileTokens(mediaType, { text: source.data, start: 0 }, model, count, "anthropic");
  }
  // a URL or a file id: the document's size is not known here; one page
  return total + pdfPageTokens(model, "anthropic");
}

function fileTokens(fileData: string, model: string | undefined, count: Count): number | undefined {
  const data = parseDataUrl(fileData);
  // not a data URL: the file is not in the request; count what is (its text)
  if (!data) return undefined;
  return base64FileTokens(data.mediaType, data.data, model, count, "openai");
}

function base64FileTokens(
  mediaType: string,
  b64: Base64Text,
  model: string | undefined,
  count: Count,
  provider: "openai" | "anthropic",
): number {
  if (mediaType === "application/pdf") {
    const pages = pdfPages(b64) || Math.ceil(decodedLength(b64) / PDF_BYTES_PER_PAGE);
    return Math.max(1, pages) * pdfPageTokens(model, provider);
  }
  if (mediaType.startsWith("image/")) {
    const size = imageSize(b64);
    if (provider === "anthropic")
      return size ? anthropicImageTokensOfSize(size, model) : claudeBounds(model).tokens;
    return openaiImageTokensOfSize(size ?? UNKNOWN_SIZE, "high", model);
  }
  if (isTextMedia(mediaType)) {
    const text = Buffer.from(b64.start === 0 ? b64.text : b64.text.slice(b64.start), "base64").toString(
      "utf8",
    );
    return count(text);
  }
  return Math.ceil(decodedLength(b64) * BINARY_FILE_TOKENS_PER_BYTE);
}

function pdfPageTokens(model: string | undefined, provider: "openai" | "anthropic"): number {
  const image =
    provider === "anthropic"
      ? claudeBounds(model).tokens
      : openaiImageTokensOfSize(UNKNOWN_SIZE, "high", model);
  return PDF_PAGE_TEXT_TOKENS + image;
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

// ---- audio

const AUDIO_TOKENS_PER_SECOND = 10;
/** bytes a second of compressed audio (32 kbps): low, so the duration errs long */
const COMPRESSED_AUDIO_BYTES_PER_SECOND = 4000;

function audioTokens(b64: Base64Text, format: string): number {
  const seconds =
    (format === "wav" ? wavSeconds(b64) : undefined) ??
    decodedLength(b64) / COMPRESSED_AUDIO_BYTES_PER_SECOND;
  return Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
