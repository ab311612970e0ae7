// Media in requests is estimated from its header (size, pages, duration), not counted as the text
// of its base64: a 1 MB image came to ~750,000 tokens. Real images: PNGs built here (zlib), JPEG,
// GIF and WebP fixtures written by ImageMagick 6.9 and cwebp (test/fixtures/media, 317×211 etc.).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { png } from "../../batchpipe/test/support/media-bytes.js";
import { checkLimits, estimateCost, estimateRequestTokens, limitsFor } from "../src/estimate/index.js";
import { imageSize, pdfPages, wavSeconds } from "../src/estimate/media-size.js";
import { anthropicImageTokensOfSize, openaiImageTokensOfSize } from "../src/estimate/media-tokens.js";

const FIXTURES = path.join(import.meta.dirname, "fixtures", "media");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name)).toString("base64");
const b64 = (text: string) => ({ text, start: 0 });

/** a PCM WAV: `seconds` of silence at that sample rate, 16-bit mono */
function wav(seconds: number, rate: number): Buffer {
  const data = Buffer.alloc(Math.round(seconds * rate) * 2);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8, "latin1");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "latin1");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** a PDF of `pages` pages, each with a line of text, its objects uncompressed */
function pdf(pages: number): Buffer {
  const kids = Array.from({ length: pages }, (_, i) => `${3 + i} 0 R`).join(" ");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`,
    ...Array.from({ length: pages }, () => "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"),
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

const chat = (model: string, content: unknown[]) => ({
  url: "/v1/chat/completions",
  body: { model, messages: [{ role: "user", content }] },
});
/** the tokens of a request with `content` less those of the same request without it */
const partCost = (model: string, part: unknown) =>
  estimateRequestTokens(chat(model, [part])) - estimateRequestTokens(chat(model, []));

describe("image sizes from their headers", () => {
  it.each([
    ["baseline.jpg (a 12 KB comment before its SOF0)", "baseline.jpg", 317, 211],
    ["progressive.jpg (SOF2)", "progressive.jpg", 211, 317],
    ["image.gif", "image.gif", 123, 45],
    ["lossy.webp (VP8)", "lossy.webp", 300, 200],
    ["lossless.webp (VP8L)", "lossless.webp", 257, 129],
    ["extended.webp (VP8X, alpha)", "extended.webp", 640, 33],
  ])("%s", (_, name, width, height) => {
    expect(imageSize(b64(fixture(name)))).toEqual({ width, height });
  });

  it("a PNG's from its IHDR, in a data URL too", () => {
    expect(imageSize(b64(png(5000, 7).toString("base64")))).toEqual({ width: 5000, height: 7 });
    const url = `data:image/png;base64,${png(33, 44).toString("base64")}`;
    expect(imageSize({ text: url, start: url.indexOf(",") + 1 })).toEqual({ width: 33, height: 44 });
  });

  it("anything else, or a cut-off header, has no size", () => {
    expect(imageSize(b64(Buffer.from("not an image at all").toString("base64")))).toBeUndefined();
    expect(imageSize(b64(fixture("baseline.jpg").slice(0, 400)))).toBeUndefined();
  });
});

describe("OpenAI's image rules", () => {
  it("tiles: 85 at low, 85 + 170 a 512 px tile after fitting 2048 and a 768 shortest side", () => {
    const tokens = (w: number, h: number, detail?: string) =>
      openaiImageTokensOfSize({ width: w, height: h }, detail, "gpt-4o");
    // the docs' examples: 1024×1024 at high is 765, 2048×4096 is 1105, low is 85 whatever the size
    expect([tokens(1024, 1024), tokens(2048, 4096), tokens(4096, 8192, "low"), tokens(100, 100)]).toEqual([
      765, 1105, 85, 255,
    ]);
  });

  it("gpt-4o-mini at 2833 + 5667 a tile; patch models at 32 px patches (at most 1536) times their multiplier", () => {
    const size = { width: 2048, height: 4096 };
    expect(openaiImageTokensOfSize(size, "high", "gpt-4o-mini-2024-07-18")).toBe(2833 + 6 * 5667);
    expect(openaiImageTokensOfSize(size, "low", "gpt-4o-mini")).toBe(2833);
    expect(openaiImageTokensOfSize({ width: 320, height: 64 }, "high", "gpt-4.1-mini")).toBe(
      Math.ceil(20 * 1.62),
    );
    expect(openaiImageTokensOfSize(size, "high", "gpt-4.1-nano")).toBe(Math.ceil(1536 * 2.46));
  });

  it("through the request: a 2048×4096 PNG in a data URL, chat and Responses; a URL as 1024×1024", () => {
    const url = `data:image/png;base64,${png(2048, 4096).toString("base64")}`;
    expect(partCost("gpt-4o", { type: "image_url", image_url: { url } })).toBe(1105);
    expect(partCost("gpt-4o", { type: "image_url", image_url: { url, detail: "low" } })).toBe(85);
    expect(partCost("gpt-4o", { type: "image_url", image_url: { url: "https://x/y.png" } })).toBe(765);
    const responses = (input: unknown[]) =>
      estimateRequestTokens({ url: "/v1/responses", body: { model: "gpt-4o", input } });
    const withImage = responses([{ role: "user", content: [{ type: "input_image", image_url: url }] }]);
    expect(withImage - responses([{ role: "user", content: [] }])).toBe(1105);
  });
});

// gpt-4o-mini bills an image ~33× gpt-4o's tokens (gpt-4o's price at its lower token price): a
// pricing rule, not what the image takes of the window. Counted for the window too, 5 images of
// 2048×2048 (25,501 tokens each) said "may not fit" its 128,000 tokens
describe("gpt-4o-mini's image multiplier", () => {
  const image = `data:image/png;base64,${png(2048, 2048).toString("base64")}`;
  const request = (text: string, images: number) => ({
    url: "/v1/chat/completions",
    body: {
      model: "gpt-4o-mini",
      max_tokens: 1000,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text },
            ...Array.from({ length: images }, () => ({ type: "image_url", image_url: { url: image } })),
          ],
        },
      ],
    },
  });
  const limits = limitsFor("gpt-4o-mini")!;

  it("counts for the cost: 2833 + 5667 a tile, priced at gpt-4o-mini's input price", () => {
    const line = request("Describe these.", 5);
    const inputTokens = estimateRequestTokens(line);
    expect(inputTokens).toBeGreaterThanOrEqual(5 * (2833 + 4 * 5667));
    const cost = estimateCost({ model: "gpt-4o-mini", inputTokens, outputTokens: 0 })!;
    expect(cost).toBeGreaterThanOrEqual(
      estimateCost({ model: "gpt-4o-mini", inputTokens: 5 * 25501, outputTokens: 0 })!,
    );
  });

  it("does not count toward the context window: 5 large images fit, images and a long text do not", () => {
    const line = request("Describe these.", 5);
    const inputTokens = estimateRequestTokens(line);
    expect(inputTokens).toBeGreaterThan(limits.context - 1000);
    expect(checkLimits("gpt-4o-mini", limits, { inputTokens, body: line.body })).toBeUndefined();
    // the text itself over the window: still may not fit (a request with images is never failed on its estimate)
    const long = request("word ".repeat(130_000), 5);
    const problem = checkLimits("gpt-4o-mini", limits, {
      inputTokens: estimateRequestTokens(long),
      body: long.body,
    });
    expect(problem).toMatchObject({ fail: false });
    // and a text over the window alone
    const text = request("word ".repeat(130_000), 0);
    expect(
      checkLimits("gpt-4o-mini", limits, { inputTokens: estimateRequestTokens(text), body: text.body }),
    ).toMatchObject({ fail: false });
  });
});

describe("Anthropic's image rule", () => {
  it("width × height / 750 after the long edge fits 1568 px and ~1,600 tokens; later models take 2576 px", () => {
    const tokens = (w: number, h: number, model: string) =>
      anthropicImageTokensOfSize({ width: w, height: h }, model);
    // the docs' table: 200×200 ~54, 1000×1000 ~1334, 1092×1092 ~1590
    expect([tokens(200, 200, "claude-haiku-4-5"), tokens(1000, 1000, "claude-sonnet-4-5-20250929")]).toEqual([
      54, 1334,
    ]);
    expect(tokens(1092, 1092, "claude-3-5-haiku-latest")).toBe(1590);
    expect(tokens(4000, 3000, "claude-opus-4-1")).toBe(1600);
    expect(tokens(2000, 1500, "claude-opus-4-7")).toBe(4000);
    expect(tokens(8000, 8000, "claude-opus-4-7")).toBe(5000);
  });

  it("through the request: a JPEG block counts its size, a URL the largest the model takes", () => {
    const image = {
      type: "image",
      source: { type: "base64", media_type: "image/jpeg", data: fixture("baseline.jpg") },
    };
    expect(partCost("claude-haiku-4-5", image)).toBe(Math.ceil((317 * 211) / 750));
    const byUrl = { type: "image", source: { type: "url", url: "https://x/y.jpg" } };
    expect(partCost("claude-haiku-4-5", byUrl)).toBe(1600);
    // an image in a tool result counts as one
    const result = { type: "tool_result", tool_use_id: "t1", content: [image] };
    expect(partCost("claude-haiku-4-5", result)).toBe(Math.ceil((317 * 211) / 750));
  });
});

describe("documents, files and audio", () => {
  it("a PDF's pages are its /Type /Page objects: 3,000 tokens and an image each", () => {
    const doc = pdf(3);
    expect(pdfPages(b64(doc.toString("base64")))).toBe(3);
    const data = doc.toString("base64");
    const block = { type: "document", source: { type: "base64", media_type: "application/pdf", data } };
    expect(partCost("claude-sonnet-4-5", block)).toBe(3 * (3000 + 1600));
    const file = {
      type: "file",
      file: { filename: "a.pdf", file_data: `data:application/pdf;base64,${data}` },
    };
    expect(partCost("gpt-4o", file)).toBe(3 * (3000 + 765));
  });

  it("a PDF whose pages are not visible counts a page per 32 KB: far below its base64 as text", () => {
    // 1 MB of random bytes after a PDF header: what a PDF of compressed object streams looks like here
    const bytes = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.from(randomBytes(1_000_000))]);
    const data = bytes.toString("base64");
    const input = { type: "input_file", filename: "a.pdf", file_data: `data:application/pdf;base64,${data}` };
    const responses = (content: unknown[]) =>
      estimateRequestTokens({
        url: "/v1/responses",
        body: { model: "gpt-4o", input: [{ role: "user", content }] },
      });
    const tokens = responses([input]) - responses([]);
    expect(tokens).toBe(Math.ceil(bytes.length / 32768) * (3000 + 765));
    // counted as text, as before: ~750,000
    expect(tokens).toBeLessThan(200_000);
  });

  it("a text document is its text; a text file is decoded and counted", () => {
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
    const asText = partCost("claude-haiku-4-5", { type: "text", text });
    const doc = { type: "document", source: { type: "text", media_type: "text/plain", data: text } };
    expect(partCost("claude-haiku-4-5", doc)).toBe(asText);
    const file = {
      type: "input_file",
      file_data: `data:text/plain;base64,${Buffer.from(text).toString("base64")}`,
    };
    expect(partCost("gpt-4o", file)).toBe(partCost("gpt-4o", { type: "text", text }));
  });

  it("audio: 10 tokens a second, a WAV's from its header, an MP3's from its size at 32 kbps", () => {
    const audio = wav(12.5, 16000);
    expect(wavSeconds(b64(audio.toString("base64")))).toBe(12.5);
    const part = { type: "input_audio", input_audio: { data: audio.toString("base64"), format: "wav" } };
    expect(partCost("gpt-4o-audio-preview", part)).toBe(125);
    // 40,000 bytes of MP3 at 32 kbps: 10 s
    const mp3 = {
      type: "input_audio",
      input_audio: { data: Buffer.alloc(40_000).toString("base64"), format: "mp3" },
    };
    expect(partCost("gpt-4o-audio-preview", mp3)).toBe(100);
  });
});

/** deterministic bytes that do not compress (a PDF's compressed streams) */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = seed >> 16;
  }
  return out;
}
