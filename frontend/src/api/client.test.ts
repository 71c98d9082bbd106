import { describe, expect, it, vi } from "vitest";
import { ApiClient, memoryTokenStore, type Tokens } from "./client";
import { ApiError, NetworkError } from "./problem";
import type { SseEvent } from "./sse";

const OLD: Tokens = { access_token: "old-access", refresh_token: "old-refresh", token_type: "bearer", expires_in: 900 };
const NEW: Tokens = { access_token: "new-access", refresh_token: "new-refresh", token_type: "bearer", expires_in: 900 };

function json(status: number, body: unknown, type = "application/json") {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

function problem(status: number, detail: string) {
  return json(status, { type: "urn:ragenie:problem:x", title: "t", status, detail }, "application/problem+json");
}

/** A fake API: /auth/refresh swaps tokens (after a delay); other paths want the new token. */
function fakeServer(options: { refreshStatus?: number } = {}) {
  const calls: { path: string; auth?: string; body?: string }[] = [];
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({ path, auth: headers.Authorization, body: init?.body as string | undefined });
    await new Promise((r) => setTimeout(r, 5));
    if (path === "/auth/refresh") {
      if (options.refreshStatus) return problem(options.refreshStatus, "the refresh token was revoked");
      const { refresh_token } = JSON.parse(String(init?.body)) as { refresh_token: string };
      return refresh_token === OLD.refresh_token ? json(200, NEW) : problem(401, "refresh token reused");
    }
    if (headers.Authorization !== `Bearer ${NEW.access_token}`) return problem(401, "the access token expired");
    return json(200, { path });
  });
  return { fetchImpl, calls };
}

/** localStorage as two tabs see it: one store, each tab told when the other saves. */
function sharedStore(initial: Tokens) {
  let tokens: Tokens | null = initial;
  const subscribers = new Set<() => void>();
  return () => {
    let notify: (() => void) | null = null;
    const tab = {
      load: () => tokens,
      save: (t: Tokens | null) => {
        tokens = t;
        for (const s of subscribers) if (s !== notify) s();
      },
      subscribe: (changed: () => void) => {
        notify = changed;
        subscribers.add(changed);
        return () => subscribers.delete(changed);
      },
    };
    return tab;
  };
}

describe("ApiClient in two tabs", () => {
  it("a tab whose refresh token another tab already spent takes the new tokens instead of signing both out", async () => {
    const { fetchImpl, calls } = fakeServer();
    const tab = sharedStore(OLD);
    const a = new ApiClient("", tab(), fetchImpl as unknown as typeof fetch);
    const b = new ApiClient("", tab(), fetchImpl as unknown as typeof fetch);
    await a.get("/a");
    const result = await b.get<{ path: string }>("/b");
    expect(result.path).toBe("/b");
    expect(calls.filter((c) => c.path === "/auth/refresh")).toHaveLength(1);
    expect(a.signedIn && b.signedIn).toBe(true);
    expect(b.accessToken).toBe(NEW.access_token);
  });

  it("a tab whose in-memory tokens are stale (no storage event) still does not reuse a spent token", async () => {
    const { fetchImpl, calls } = fakeServer();
    let shared: Tokens | null = OLD;
    const store = () => ({ load: () => shared, save: (t: Tokens | null) => void (shared = t) });
    const a = new ApiClient("", store(), fetchImpl as unknown as typeof fetch);
    const b = new ApiClient("", store(), fetchImpl as unknown as typeof fetch);
    await a.get("/a");
    await b.get("/b");
    const refreshes = calls.filter((c) => c.path === "/auth/refresh").map((c) => JSON.parse(c.body!).refresh_token);
    expect(refreshes).toEqual(["old-refresh"]);
    expect(b.signedIn).toBe(true);
  });

  it("signing out in one tab signs the other out", async () => {
    const tab = sharedStore(OLD);
    const a = new ApiClient("", tab(), fakeServer().fetchImpl as unknown as typeof fetch);
    const b = new ApiClient("", tab(), fakeServer().fetchImpl as unknown as typeof fetch);
    const changes: boolean[] = [];
    b.onAuthChange((s) => changes.push(s));
    a.setTokens(null);
    expect(b.signedIn).toBe(false);
    expect(changes).toEqual([false]);
  });
});

describe("ApiClient auth", () => {
  it("refreshes once for many concurrent 401s and retries each request with the new token", async () => {
    const { fetchImpl, calls } = fakeServer();
    const store = memoryTokenStore(OLD);
    const client = new ApiClient("", store, fetchImpl as unknown as typeof fetch);
    const results = await Promise.all(["/a", "/b", "/c", "/d"].map((p) => client.get<{ path: string }>(p)));
    expect(results.map((r) => r.path)).toEqual(["/a", "/b", "/c", "/d"]);
    expect(calls.filter((c) => c.path === "/auth/refresh")).toHaveLength(1);
    expect(JSON.parse(calls.find((c) => c.path === "/auth/refresh")!.body!)).toEqual({ refresh_token: "old-refresh" });
    expect(store.load()).toEqual(NEW);
    // Each request went out twice: with the old token, then with the new one.
    expect(calls.filter((c) => c.path === "/a").map((c) => c.auth)).toEqual(["Bearer old-access", "Bearer new-access"]);
  });

  it("signs out when the refresh is refused, and the request fails with the API's message", async () => {
    const { fetchImpl } = fakeServer({ refreshStatus: 401 });
    const client = new ApiClient("", memoryTokenStore(OLD), fetchImpl as unknown as typeof fetch);
    const changes: boolean[] = [];
    client.onAuthChange((s) => changes.push(s));
    await expect(client.get("/a")).rejects.toMatchObject({ status: 401, message: "The access token expired" });
    expect(client.signedIn).toBe(false);
    expect(changes).toEqual([false]);
  });

  it("keeps the session when the refresh fails for a server error", async () => {
    const { fetchImpl } = fakeServer({ refreshStatus: 503 });
    const client = new ApiClient("", memoryTokenStore(OLD), fetchImpl as unknown as typeof fetch);
    await expect(client.get("/a")).rejects.toBeInstanceOf(ApiError);
    expect(client.signedIn).toBe(true);
  });

  it("sends no token and never refreshes for anonymous calls", async () => {
    const fetchImpl = vi.fn(async () => problem(401, "wrong email or password"));
    const client = new ApiClient("", memoryTokenStore(OLD), fetchImpl as unknown as typeof fetch);
    await expect(client.post("/auth/login", { email: "a@b.c", password: "x" }, { anonymous: true })).rejects.toThrow(
      "Wrong email or password",
    );
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const init = (fetchImpl.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it("turns a failed fetch into a readable network error", async () => {
    const fetchImpl = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    const client = new ApiClient("", memoryTokenStore(null), fetchImpl as unknown as typeof fetch);
    const e = await client.get("/health").catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NetworkError);
    expect((e as Error).message).toMatch(/Cannot reach the RaGenie server/);
  });

  it("builds query strings without empty values", () => {
    const client = new ApiClient("", memoryTokenStore(null));
    expect(client.url("/documents", { kind: "dataset", profile: "", cursor: undefined })).toBe("/documents?kind=dataset");
  });
});

describe("ApiClient.stream", () => {
  function sseResponse(chunks: string[]) {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of chunks) c.enqueue(enc.encode(chunk));
        c.close();
      },
    });
    return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
  }

  it("POSTs JSON, asks for an event stream and delivers events split across chunks", async () => {
    const fetchImpl = vi.fn(async () =>
      sseResponse(['event: delta\ndata: {"te', 'xt":"Hi"}\n', "\nevent: done\ndata: {}\n\n"]),
    );
    const client = new ApiClient("", memoryTokenStore(NEW), fetchImpl as unknown as typeof fetch);
    const events: SseEvent[] = [];
    await client.stream("/conversations/c1/messages", { content: "hello" }, (e) => events.push(e));
    expect(events).toEqual([
      { event: "delta", data: '{"text":"Hi"}' },
      { event: "done", data: "{}" },
    ]);
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/conversations/c1/messages");
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"content":"hello"}');
    const headers = init.headers as Record<string, string>;
    expect(headers.Accept).toBe("text/event-stream");
    expect(headers.Authorization).toBe("Bearer new-access");
  });

  it("rejects with the problem when the server refuses before streaming", async () => {
    const fetchImpl = vi.fn(async () => problem(402, "the monthly budget is spent"));
    const client = new ApiClient("", memoryTokenStore(NEW), fetchImpl as unknown as typeof fetch);
    await expect(client.stream("/x", {}, () => undefined)).rejects.toThrow("The monthly budget is spent");
  });

  it("stops with an AbortError when aborted mid-stream", async () => {
    const enc = new TextEncoder();
    let pull = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pull++;
        c.enqueue(enc.encode(`event: delta\ndata: {"text":"${pull}"}\n\n`));
        return new Promise((r) => setTimeout(r, 2));
      },
    });
    const fetchImpl = vi.fn(async () => new Response(body, { headers: { "Content-Type": "text/event-stream" } }));
    const client = new ApiClient("", memoryTokenStore(NEW), fetchImpl as unknown as typeof fetch);
    const controller = new AbortController();
    let seen = 0;
    const run = client.stream(
      "/x",
      {},
      () => {
        seen++;
        if (seen === 3) controller.abort();
      },
      controller.signal,
    );
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(seen).toBe(3);
  });
});
