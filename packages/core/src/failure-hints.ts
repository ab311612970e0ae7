/**
 * What to do about each failure code a record can end with (DESIGN §1): the run's report shows it
 * beside the first failure of each code, and `batchpipe view` on its failures page.
 */
const HINTS: Record<string, string> = {
  invalid_input:
    "The source could not read this record (the message says why: not a JSON object, a CSV row that does not parse, a value of the wrong type); fix it at its file and line, and run again.",
  template_error:
    "The prompt template needs a field this record lacks; add the field to the record or a default in the template ({{ x | default: '' }}). `batchpipe validate` shows the template's place in the spec.",
  request_too_large:
    "The rendered request is over the provider's per-request or per-batch size; shorten the input or split the record.",
  duplicate_id:
    "Another record has the same id (the first one wins); make `transform.id` unique across the dataset.",
  invalid_json_output:
    "The model's answer did not parse as the JSON the request asked for; raise max_tokens (a cut-off answer is invalid JSON) or simplify the schema.",
  batch_expired:
    "The batch did not finish within its completion window; run again to retry only what failed (it was retried up to batch.max_attempts).",
  batch_cancelled: "The batch was cancelled before this request ran; run again to send what is left.",
  batch_failed: "The provider failed the whole batch; read the message, then run again to retry.",
  batch_missing:
    "The batch disappeared from the provider before its results were read; run again to resend these requests.",
  missing_result: "The provider ended the batch without a result for this request; run again to resend it.",
  max_tokens_too_large:
    "The request's max_tokens (or max_completion_tokens, max_output_tokens) is over its model's output limit; lower it, or pick a model with a higher output limit (model_limits: in the spec for a model batchpipe does not know).",
  context_length_exceeded:
    "The prompt plus max_tokens is over the model's context window; shorten the input or lower max_tokens.",
  model_not_found:
    "The provider does not know the model, or the key has no access to it; check body.model's spelling against the provider's model list.",
  content_policy_violation:
    "The provider refused the request under its usage policy; change the input of these records, or leave them out.",
  rate_limit_exceeded: "The provider rate-limited the request; run again later, or lower the batch size.",
  token_limit_exceeded:
    "The provider's enqueued-token queue was full; set batch.max_enqueued_tokens to your tier's limit.",
  invalid_request_error:
    "The provider refused the request body; check the model name and the body's fields against the provider's API.",
  server_error: "The provider failed on its side; run again to retry.",
};

export function failureHint(code: string): string {
  return (
    HINTS[code] ??
    "Read the message; failures are not cached, so running again retries exactly these records."
  );
}
