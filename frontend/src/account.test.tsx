import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PENDING_POLL_MS } from "./account";
import { api } from "./api/client";
import { App } from "./App";
import { type Handler, installFetch, json } from "./test/fakeFetch";
import { renderInRouter } from "./test/render";

function renderAt(path: string) {
  return renderInRouter(path, <App />, { auth: true });
}

const inactive = (standing: "pending" | "suspended") =>
  json(403, {
    type: `urn:ragenie:problem:account-${standing}`,
    title: "Forbidden",
    status: 403,
    detail: standing === "pending" ? "your account is waiting for an administrator's approval" : "this account is suspended; ask an administrator",
  });

const me = (role: "admin" | "user") => () => json(200, { id: "u1", email: "ada@example.com", role, status: "active", created_at: "2026-12-01T00:00:00Z" });

const SHELL: Record<string, Handler> = {
  "GET /users/me/preferences": () => json(200, {}),
  "GET /usage": () => json(200, { from: "", to: "", days: [], models: [], total_cost_usd: 0, total_input_tokens: 0, total_output_tokens: 0 }),
  "GET /usage/budget": () => json(200, {}),
  "GET /admin/users": () => json(200, { items: [], next_cursor: null }),
  "GET /admin/settings": () => json(200, { registration: "open", requests_per_minute: 60, max_concurrent_answers: 3 }),
  "GET /admin/invites": () => json(200, { items: [] }),
  "GET /admin/usage": () => json(200, { from: "", to: "", days: [], total_cost_usd: 0, total_answers: 0 }),
};

afterEach(() => {
  vi.useRealTimers();
  api.setTokens(null);
});

describe("the Admin section", () => {
  it("is in the navigation of admins and opens the console", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch({ ...SHELL, "GET /auth/me": me("admin") });
    renderAt("/app/usage");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Admin" }));
    expect(await screen.findByRole("heading", { name: "Admin", level: 1 })).toBeTruthy();
    expect(await screen.findByRole("heading", { name: "Users" })).toBeTruthy();
  });

  it("is hidden from users, and its address refuses them without asking the server", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    const { calls } = installFetch({ ...SHELL, "GET /auth/me": me("user") });
    renderAt("/app/admin");
    expect((await screen.findByText("Only administrators can open this page.")).getAttribute("role")).toBe("alert");
    expect(screen.getByRole("link", { name: "Usage" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Admin" })).toBeNull();
    expect(calls.some((c) => c.path.startsWith("/admin/"))).toBe(false);
  });
});

describe("an account that may not act", () => {
  it("waits for approval on its own screen, and enters the app once approved", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    api.setTokens({ access_token: "a", refresh_token: "r" });
    let approved = false;
    installFetch({ ...SHELL, "GET /auth/me": () => (approved ? me("user")() : inactive("pending")) });
    renderAt("/app/usage");
    expect(await screen.findByRole("heading", { name: "Your account is waiting for approval" })).toBeTruthy();
    expect(screen.queryByRole("navigation", { name: "Main" })).toBeNull();
    // "Check again" asks at once; still waiting.
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.click(screen.getByRole("button", { name: "Check again" }));
    expect(screen.getByRole("heading", { name: "Your account is waiting for approval" })).toBeTruthy();
    // Approved meanwhile: the next check opens the app by itself.
    approved = true;
    await act(async () => void (await vi.advanceTimersByTimeAsync(PENDING_POLL_MS + 10)));
    expect(await screen.findByRole("heading", { name: "Usage" })).toBeTruthy();
    expect(screen.getByRole("navigation", { name: "Main" })).toBeTruthy();
  });

  it("learns from any request that it was suspended, and says so", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    let suspended = false;
    installFetch({
      ...SHELL,
      "GET /auth/me": me("user"),
      "GET /usage": () => (suspended ? inactive("suspended") : SHELL["GET /usage"]!({} as never)),
    });
    renderAt("/app/settings");
    await screen.findByRole("link", { name: "Usage" });
    suspended = true;
    const user = userEvent.setup();
    await user.click(screen.getByRole("link", { name: "Usage" }));
    expect(await screen.findByRole("heading", { name: "Your account is suspended" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Check again" })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(api.signedIn).toBe(false));
    expect(await screen.findByRole("heading", { name: "Sign in to RaGenie" })).toBeTruthy();
  });
});
