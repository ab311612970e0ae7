// SuccessRow-shaped rows for the sink benchmarks (bench/plugins-sinks.js, bench/plugins-sink-postgres.js).

/** a SuccessRow as the engine delivers it: the output line parsed, a JSON output parsed from its text */
export function buildRows(shard, lines) {
  return lines.map(({ text, record }) => {
    const body = JSON.parse(text).response.body;
    const content = body.choices?.[0]?.message?.content;
    const usage = body.usage;
    return {
      id: record.id,
      status: "success",
      output: content === undefined ? null : JSON.parse(content),
      response: body,
      usage: usage
        ? {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
          }
        : null,
      model: body.model ?? null,
      batch_id: `batch_${shard}`,
      attempts: 1,
      input: record.input,
      source: record.source,
    };
  });
}

/**
 * Output lines as the emulator writes them (JSON.stringify), and the records they answer. shape
 * "full": a whole chat-completion body in `response` (~770 bytes a row, what the engine delivers);
 * "lean": a one-field response (~440 bytes a row).
 */
export function makeLines({ shard, from, count, shardSize, shape = "full" }) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const id = `rev-${shard}-${i}`;
    const content = `{"sentiment":"positive","confidence":0.${i % 100},"summary":"the customer likes it"}`;
    const body =
      shape === "lean"
        ? { id: `chatcmpl-${id}` }
        : {
            id: `chatcmpl-${id}`,
            object: "chat.completion",
            created: 1764259200,
            model: "gpt-4o-mini-2024-07-18",
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
            usage: { prompt_tokens: 52, completion_tokens: 21, total_tokens: 73 },
          };
    const text = JSON.stringify({
      id: `batch_req_${shard}_${i}`,
      custom_id: id,
      response: { status_code: 200, request_id: `req_${shard}_${i}`, body },
      error: null,
    });
    const record = {
      id,
      input: { id, text: "Great product, works as described, would buy again." },
      source: { file: "/data/reviews.jsonl", line: shard * shardSize + i + 1 },
    };
    return { text, record };
  });
}
