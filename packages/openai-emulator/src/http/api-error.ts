/** An OpenAI-style error answer: `{"error":{"message","type","param","code"}}` with an HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    init: {
      type?: string;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.type = init.type ?? defaultType(status);
    this.param = init.param ?? null;
    this.code = init.code ?? null;
    this.headers = init.headers ?? {};
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function notFound(message: string): ApiError {
  return new ApiError(404, message, { type: "invalid_request_error" });
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null) {
  return new ApiError(400, message, { type: "invalid_request_error", param, code });
}

function defaultType(status: number): string {
  if (status === 429) return "rate_limit_error"; // older 429s also used "requests"/"tokens"
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
