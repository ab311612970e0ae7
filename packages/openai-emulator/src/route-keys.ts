/**
 * Every route the emulator serves, as fault rules name them ("METHOD /v1/path" with `:id`). The
 * options check refuses a fault for any other route (a `{id}` for `:id`, a lower-case method): such a
 * rule never fired, so the test it was written for passed without its fault. The server builds its
 * routes only from these keys.
 */
export const LIVE_ENDPOINTS = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/completions",
  "/v1/moderations",
] as const;

export const ROUTE_KEYS: readonly string[] = [
  "POST /v1/files",
  "GET /v1/files",
  "GET /v1/files/:id",
  "DELETE /v1/files/:id",
  "GET /v1/files/:id/content",
  "POST /v1/batches",
  "GET /v1/batches",
  "GET /v1/batches/:id",
  "POST /v1/batches/:id/cancel",
  ...LIVE_ENDPOINTS.map((endpoint) => `POST ${endpoint}`),
  "POST /v1/messages/batches",
  "GET /v1/messages/batches",
  "GET /v1/messages/batches/:id",
  "POST /v1/messages/batches/:id/cancel",
  "DELETE /v1/messages/batches/:id",
  "GET /v1/messages/batches/:id/results",
  "POST /v1/messages",
];
