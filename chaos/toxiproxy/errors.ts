// The API's error values: a message and an HTTP status, served as `{"error": ..., "status": ...}`
// with the texts Toxiproxy uses, so clients that match on them keep working.

export class ApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }

  toJSON(): { error: string; status: number } {
    return { error: this.message, status: this.status };
  }

  /** "bad request body: EOF", "missing required field: name" — Toxiproxy's joinError. */
  withDetail(detail: string): ApiError {
    return new ApiError(`${this.message}: ${detail}`, this.status);
  }
}

export const ErrBadRequestBody = new ApiError('bad request body', 400);
export const ErrMissingField = new ApiError('missing required field', 400);
export const ErrProxyNotFound = new ApiError('proxy not found', 404);
export const ErrProxyAlreadyExists = new ApiError('proxy already exists', 409);
export const ErrInvalidStream = new ApiError('stream was invalid, can be either upstream or downstream', 400);
export const ErrInvalidToxicType = new ApiError('invalid toxic type', 400);
export const ErrToxicAlreadyExists = new ApiError('toxic already exists', 409);
export const ErrToxicNotFound = new ApiError('toxic not found', 404);

/** Any other failure (a listen error, an address that does not resolve) is a 500 with its text. */
export function internalError(message: string): ApiError {
  return new ApiError(message, 500);
}

export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return internalError(err instanceof Error ? err.message : String(err));
}
