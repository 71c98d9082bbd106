// The one way the app talks to the API: bearer tokens kept in storage, a transparent refresh on
// 401 (one refresh in flight however many requests fail at once), problem+json errors turned
// into ApiError, SSE read from POST responses with fetch + ReadableStream, and uploads through
// XMLHttpRequest for their progress events.

import { ApiError, NetworkError, errorFromResponse, isAbort, problemFromText } from "./problem";
import { readSse, type SseEvent } from "./sse";

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type?: string;
  expires_in?: number;
}

export interface TokenStore {
  load(): Tokens | null;
  save(tokens: Tokens | null): void;
  /** Calls `changed` when another tab saved (storage events); returns the unsubscribe. */
  subscribe?(changed: () => void): () => void;
}

const STORAGE_KEY = "ragenie.tokens";

export const localTokenStore: TokenStore = {
  load() {
    try {
      const raw = localStorage.getItem(STORAGE_KEY);
      if (!raw) return null;
      const t = JSON.parse(raw) as Tokens;
      return t.access_token && t.refresh_token ? t : null;
    } catch {
      return null;
    }
  },
  save(tokens) {
    try {
      if (tokens) localStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
      else localStorage.removeItem(STORAGE_KEY);
    } catch {
      // storage unavailable (private mode): tokens live in memory only
    }
  },
  subscribe(changed) {
    if (typeof window === "undefined") return () => {};
    const onStorage = (e: StorageEvent) => {
      if (e.key === STORAGE_KEY || e.key === null) changed();
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  },
};

/**
 * Runs `work` while holding a lock every tab of this origin shares (the Web Locks API), so two
 * tabs never refresh at once: refresh tokens rotate, and the second use of one looks like a
 * stolen token and ends the session in every tab. Without the API, `work` just runs.
 */
function acrossTabs<T>(work: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request("ragenie.auth.refresh", work) as Promise<T>) : work();
}

export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let tokens = initial;
  return { load: () => tokens, save: (t) => void (tokens = t) };
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body (a File, Blob or string) sent as is, with `contentType`. */
  raw?: BodyInit;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  /** No Authorization header and no refresh (login, register). */
  anonymous?: boolean;
  headers?: Record<string, string>;
}

export interface UploadOptions {
  query?: RequestOptions["query"];
  method?: string;
  /** The body's media type (default: the file's own, else application/octet-stream). */
  contentType?: string;
  /** Extra headers, e.g. those a presigned URL was signed with. */
  headers?: Record<string, string>;
  /** `path` is a full URL (a presigned one): no Authorization header, no refresh. */
  external?: boolean;
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

type FetchLike = typeof fetch;

/** Why a signed-in account may not act: its 403 problem's type names it. */
export type Standing = "pending" | "suspended";

/** The standing a problem announces (`urn:ragenie:problem:account-pending` / `-suspended`). */
export function standingOf(problem: { type?: string } | undefined): Standing | undefined {
  const type = problem?.type ?? "";
  if (type.endsWith("account-pending")) return "pending";
  if (type.endsWith("account-suspended")) return "suspended";
  return undefined;
}

export class ApiClient {
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<(signedIn: boolean) => void>();
  private standingListeners = new Set<(standing: Standing) => void>();

  constructor(
    private readonly baseUrl = "",
    private readonly store: TokenStore = localTokenStore,
    private readonly fetchImpl: FetchLike = (...args) => fetch(...args),
  ) {
    this.tokens = store.load();
    // Another tab refreshed or signed out: take its tokens, so the two never fight.
    store.subscribe?.(() => this.adopt(store.load()));
  }

  /** Takes tokens another tab stored (without saving them again). */
  private adopt(tokens: Tokens | null) {
    const was = this.tokens !== null;
    this.tokens = tokens;
    if (was !== (tokens !== null)) for (const l of this.listeners) l(tokens !== null);
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  get refreshToken(): string | null {
    return this.tokens?.refresh_token ?? null;
  }

  get accessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  setTokens(tokens: Tokens | null) {
    const was = this.tokens !== null;
    this.tokens = tokens;
    this.store.save(tokens);
    if (was !== (tokens !== null)) for (const l of this.listeners) l(tokens !== null);
  }

  /** Called with false when the session ends (refresh refused, sign-out). */
  onAuthChange(listener: (signedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Called when any answer says the account waits for approval or is suspended, so the app
   * shows that instead of a broken screen, whichever request found out first.
   */
  onStanding(listener: (standing: Standing) => void): () => void {
    this.standingListeners.add(listener);
    return () => this.standingListeners.delete(listener);
  }

  private announceStanding(problem: { type?: string }) {
    const standing = standingOf(problem);
    if (standing) for (const l of this.standingListeners) l(standing);
  }

  /** Reads a 403's problem (from a copy: the caller still reads the original). */
  private async checkStanding(response: Response) {
    try {
      const copy = response.clone();
      this.announceStanding(problemFromText(await copy.text(), copy.headers.get("Content-Type") ?? ""));
    } catch {
      // an unreadable body says nothing about the account
    }
  }

  url(path: string, query?: RequestOptions["query"]): string {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
      }
      const qs = params.toString();
      if (qs) url += (url.includes("?") ? "&" : "?") + qs;
    }
    return url;
  }

  /**
   * Exchanges the refresh token for a new pair. Concurrent callers share one request: refresh
   * tokens rotate, so a second request with the same token would look like reuse and revoke
   * the whole session.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      const used = this.tokens;
      this.refreshing = acrossTabs(async () => {
        // Another tab may have refreshed (or signed out) while this one waited: its tokens are
        // in the shared store, and the one this tab holds is already spent.
        const stored = this.store.load();
        if (used && stored?.refresh_token !== used.refresh_token) {
          this.adopt(stored);
          return stored !== null;
        }
        const current = stored ?? used;
        if (!current) return false;
        try {
          const response = await this.fetchImpl(this.url("/auth/refresh"), {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify({ refresh_token: current.refresh_token }),
          });
          if (!response.ok) {
            // Refused: the session is over. A 5xx or 429 is not a verdict on the token; keep it.
            if (response.status === 400 || response.status === 401 || response.status === 403) {
              this.setTokens(null);
            }
            return false;
          }
          const fresh = (await response.json()) as Tokens;
          // Another tab may have signed out meanwhile; only replace the pair we refreshed.
          if (this.tokens === null || this.tokens.refresh_token === current.refresh_token) {
            this.setTokens({ ...fresh, refresh_token: fresh.refresh_token ?? current.refresh_token });
          }
          return true;
        } catch {
          return false;
        }
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** fetch with auth: on a 401, one transparent refresh and one retry. */
  async send(method: string, path: string, options: RequestOptions = {}, accept = "application/json"): Promise<Response> {
    const attempt = async () => {
      const headers: Record<string, string> = { Accept: accept, ...options.headers };
      let body: BodyInit | undefined;
      if (options.raw !== undefined) {
        body = options.raw;
        if (options.contentType) headers["Content-Type"] = options.contentType;
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers["Content-Type"] = "application/json";
      }
      const token = this.tokens?.access_token;
      if (token && !options.anonymous) headers.Authorization = `Bearer ${token}`;
      try {
        return await this.fetchImpl(this.url(path, options.query), { method, headers, body, signal: options.signal });
      } catch (e) {
        if (isAbort(e)) throw e;
        throw new NetworkError(e);
      }
    };
    const usedToken = this.tokens?.access_token;
    let response = await attempt();
    if (response.status === 401 && !options.anonymous && this.tokens) {
      // Another request may already have refreshed while this one was in flight.
      const refreshed = this.tokens.access_token !== usedToken || (await this.refresh());
      if (refreshed) response = await attempt();
    }
    if (response.status === 403 && !options.anonymous) await this.checkStanding(response);
    return response;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  get<T>(path: string, options?: RequestOptions) {
    return this.request<T>("GET", path, options);
  }
  post<T>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("POST", path, { ...options, body });
  }
  put<T>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PUT", path, { ...options, body });
  }
  patch<T>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PATCH", path, { ...options, body });
  }
  delete<T>(path: string, options?: RequestOptions) {
    return this.request<T>("DELETE", path, options);
  }

  /** Text body (e.g. a document's extracted text). */
  async text(path: string, options: RequestOptions = {}): Promise<string> {
    const response = await this.send("GET", path, options, "text/plain, text/markdown, */*");
    if (!response.ok) throw await errorFromResponse(response);
    return response.text();
  }

  /**
   * POSTs and reads the answer as Server-Sent Events, calling `onEvent` for each. Resolves when
   * the stream ends; rejects with AbortError when `signal` aborts, ApiError when the server
   * refuses before streaming.
   */
  async stream(path: string, body: unknown, onEvent: (event: SseEvent) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.send("POST", path, { body, signal }, "text/event-stream");
    if (!response.ok) throw await errorFromResponse(response);
    const type = response.headers.get("Content-Type") ?? "";
    if (!type.includes("text/event-stream")) {
      // A JSON answer where a stream was expected: surface it rather than hang.
      const problem = problemFromText(await response.text(), type);
      throw new ApiError(response.status, problem.detail ? problem : { detail: "The server did not answer with a stream" });
    }
    if (!response.body) throw new ApiError(response.status, { detail: "The server sent an empty stream" });
    for await (const event of readSse(response.body)) {
      if (signal?.aborted) throw new DOMException("Aborted", "AbortError");
      onEvent(event);
    }
  }

  /** Uploads a file with progress (fetch has no upload progress); refreshes once on 401. */
  async upload<T>(path: string, file: Blob, options: UploadOptions = {}): Promise<T> {
    const once = () =>
      new Promise<{ status: number; text: string; type: string; retryAfter: string | null }>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open(options.method ?? "POST", options.external ? path : this.url(path, options.query));
        const token = this.tokens?.access_token;
        if (token && !options.external) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
        xhr.setRequestHeader("Accept", "application/json");
        // XHR appends repeated headers ("a, a"): one value per name, whatever its case.
        const headers = new Map<string, [string, string]>();
        const set = (k: string, v: string) => headers.set(k.toLowerCase(), [k, v]);
        set("Content-Type", options.contentType || file.type || "application/octet-stream");
        for (const [k, v] of Object.entries(options.headers ?? {})) set(k, v);
        // The browser sends the body's length itself (a script may not set it); a presigned
        // URL's signed Content-Length is that same length.
        headers.delete("content-length");
        for (const [k, v] of headers.values()) xhr.setRequestHeader(k, v);
        xhr.upload.onprogress = (e) => options.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
        xhr.onload = () =>
          resolve({
            status: xhr.status,
            text: xhr.responseText,
            type: xhr.getResponseHeader("Content-Type") ?? "",
            retryAfter: xhr.getResponseHeader("Retry-After"),
          });
        xhr.onerror = () => reject(new NetworkError());
        xhr.onabort = () => reject(new DOMException("Aborted", "AbortError"));
        options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
        xhr.send(file);
      });
    const usedToken = this.tokens?.access_token;
    let result = await once();
    if (result.status === 401 && this.tokens && !options.external) {
      const refreshed = this.tokens.access_token !== usedToken || (await this.refresh());
      if (refreshed) result = await once();
    }
    if (result.status === 403 && !options.external) this.announceStanding(problemFromText(result.text, result.type));
    if (result.status < 200 || result.status >= 300) {
      const retry = result.retryAfter && /^\d+$/.test(result.retryAfter) ? Number(result.retryAfter) : undefined;
      throw new ApiError(result.status, problemFromText(result.text, result.type), retry);
    }
    if (!result.text || !result.type.includes("json")) return undefined as T;
    return JSON.parse(result.text) as T;
  }
}

export const api = new ApiClient();
