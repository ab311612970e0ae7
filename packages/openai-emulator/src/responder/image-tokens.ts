/**
 * Input tokens of an image in a message's content (media-tokens.ts walks the content), a fixed
 * figure per image: the emulator does not read image sizes, so each image counts as batchpipe's
 * estimate counts one of unknown size (@batchpipe/core estimate/media-tokens.ts; the emulator's
 * main entry does not load core):
 *
 * - OpenAI (`image_url` parts, the Responses API's `input_image`): a 1024×1024 image by the
 *   published rules (platform.openai.com/docs/guides/images-vision, "Calculating costs"): detail
 *   "low" the base figure, else the base and 4 tiles of 512 px: 85 + 170 × 4 = 765 (gpt-4o-mini:
 *   2,833 + 5,667 × 4 = 25,501); patch models 32 px patches × their multiplier, whatever the
 *   detail: 1,024 × 1.62 (gpt-4.1-mini, gpt-5-mini), × 2.46 (gpt-4.1-nano, gpt-5-nano), × 1.72 (o4-mini).
 * - Anthropic (`image` blocks, also inside a tool_result's content): 1,600 tokens, the bound of an
 *   image Claude takes without resizing (docs.anthropic.com/en/docs/build-with-claude/vision,
 *   "Calculate image costs": width × height / 750, ~1.15 megapixels).
 */
export const ANTHROPIC_IMAGE_TOKENS = 1600;
const UNKNOWN_PATCHES = (1024 / 32) * (1024 / 32);
const UNKNOWN_TILES = 4;

/** an OpenAI image of unknown size (1024×1024) at `detail`, by the model's rule */
export function openaiImageTokens(detail: unknown, model: string | undefined): number {
  const m = model ?? "";
  const patches = (multiplier: number) => Math.ceil(UNKNOWN_PATCHES * multiplier);
  if (m.startsWith("gpt-4.1-mini") || m.startsWith("gpt-5-mini")) return patches(1.62);
  if (m.startsWith("gpt-4.1-nano") || m.startsWith("gpt-5-nano")) return patches(2.46);
  if (m.startsWith("o4-mini")) return patches(1.72);
  const [base, tile] = m.startsWith("gpt-4o-mini") ? [2833, 5667] : [85, 170];
  return detail === "low" ? base : base + tile * UNKNOWN_TILES;
}
