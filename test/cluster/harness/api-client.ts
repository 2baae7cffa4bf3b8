/** ApiResponse: status and parsed JSON body (raw text when not JSON; undefined when empty). */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

/** API_TIMEOUT_MS: one request's time limit; a paused node must not hang a test. */
export const API_TIMEOUT_MS = 5_000;

/**
 * ApiClient talks to one node's admin API on 127.0.0.1:port, adding
 * `Authorization: Bearer <token>` when a token is set. Network errors and
 * timeouts reject; HTTP errors resolve with their status.
 */
export class ApiClient {
  constructor(
    readonly port: number,
    private readonly token?: string,
  ) {}

  /** baseUrl: http://127.0.0.1:<port>. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** request sends one call; `body` is sent as JSON. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed: unknown = text === '' ? undefined : text;
    try {
      if (text !== '') parsed = JSON.parse(text);
    } catch {
      // keep the raw text
    }
    return { status: res.status, body: parsed as T };
  }

  /** get: GET path. */
  get<T = any>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  /** put: PUT path with a JSON body. */
  put<T = any>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, body);
  }

  /** post: POST path, with a JSON body when given. */
  post<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  /** delete: DELETE path. */
  delete<T = any>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path);
  }
}
