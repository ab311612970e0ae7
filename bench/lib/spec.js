// The bench pipelines: N chat records → the prompt transform (a sentiment prompt) → sinks.
// Each bench script states only what it varies (name, provider address, limits, sinks).

/**
 * @param {{ name: string, baseUrl: string, source: string, maxTokens?: number, temperature?: number,
 *   system?: string, batch?: Record<string, string | number | boolean | null>, sinks: string[], errors?: boolean }} o
 *   source: the source's flow mapping (e.g. `{ use: jsonl, path: "…" }`); sinks: flow mappings, one a line
 */
export function chatSpec(o) {
  const batch = Object.entries(o.batch ?? {});
  return `version: 1
name: ${o.name}
provider: { use: openai, base_url: "${o.baseUrl}" }
source: ${o.source}
transform:
  use: prompt
  endpoint: /v1/chat/completions
  id: "{{ id }}"
  body:
    model: gpt-4o-mini
${o.temperature === undefined ? "" : `    temperature: ${o.temperature}\n`}    max_tokens: ${o.maxTokens ?? 50}
    messages:
      - { role: system, content: ${JSON.stringify(o.system ?? "Classify the sentiment of the product review.")} }
      - { role: user, content: "{{ text }}" }
${batch.length ? `batch:\n${batch.map(([k, v]) => `  ${k}: ${v === null ? "null" : v}`).join("\n")}\n` : ""}sinks:
${o.sinks.map((s) => `  - ${s}`).join("\n")}
${o.errors === false ? "" : "errors:\n  - { use: jsonl, path: ./out/errors.jsonl }\n"}`;
}
