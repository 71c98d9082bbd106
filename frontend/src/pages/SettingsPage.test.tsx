import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, useLocation } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { ApiKey } from "../api/models";
import { installFetch, json } from "../test/fakeFetch";
import { renderRoutes } from "../test/render";
import { signedInEachTest } from "../test/session";
import SettingsPage from "./SettingsPage";

signedInEachTest();
afterEach(() => {
  delete document.documentElement.dataset.theme;
});

function routes(keys: ApiKey[], extra = {}) {
  return installFetch({
    "GET /auth/me": () => json(200, { id: "u1", email: "ada@example.com", created_at: "2026-01-01T00:00:00Z" }),
    "GET /users/me/preferences": () => json(200, { default_profile: null, default_model: null, theme: "system" }),
    "GET /profiles": () => json(200, { items: [{ id: "p1", name: "Lab", instruction_ids: [], dataset_ids: [], parent_ids: [] }] }),
    "GET /models": () => json(200, { items: [{ id: "gpt-test" }] }),
    "GET /auth/api-keys": () => json(200, { items: keys, next_cursor: null }),
    "GET /auth/audit": () => json(200, { items: [], next_cursor: null }),
    "GET /auth/sessions": () =>
      json(200, { items: [{ id: "s1", created_at: "2026-01-01T00:00:00Z", last_used_at: null, current: true }], next_cursor: null }),
    ...extra,
  });
}

describe("SettingsPage", () => {
  it("lists the account's security activity, newest first, and pages to older events", async () => {
    const event = (id: string, action: string, detail: string | null, address: string) => ({
      id, user: "u1", action, actor: "u1", target: "user:u1", at: "2026-03-0" + id + "T10:00:00Z", address, request_id: "req-" + id, detail,
    });
    routes([], {
      "GET /auth/audit": ({ url }: { url: URL }) =>
        url.searchParams.get("cursor") === "c2"
          ? json(200, { items: [event("1", "api_key_created", null, "198.51.100.4")], next_cursor: null })
          : json(200, { items: [event("3", "sign_in_failed", "wrong_password", "203.0.113.9"), event("2", "sign_in_succeeded", null, "203.0.113.9")], next_cursor: "c2" }),
    });
    render(<MemoryRouter><SettingsPage /></MemoryRouter>);
    const user = userEvent.setup();
    const section = (await screen.findByRole("heading", { name: "Security activity" })).closest("section")!;
    const refused = (await within(section).findByText("Sign-in refused")).closest("tr")!;
    expect(refused.textContent).toContain("wrong password");
    expect(refused.textContent).toContain("203.0.113.9");
    expect(refused.textContent).toContain("req-3");
    const rows = () => within(section).getAllByRole("row").slice(1).map((r) => r.textContent ?? "");
    expect(rows()[1]).toContain("Signed in");
    await user.click(within(section).getByRole("button", { name: "Show older activity" }));
    await within(section).findByText("API key created");
    expect(rows()).toHaveLength(3);
    expect(within(section).queryByRole("button", { name: "Show older activity" })).toBeNull();
  });

  it("shows a new API key once, lists it by prefix only, and revokes it", async () => {
    const keys: ApiKey[] = [];
    const secret = "rg_live_0123456789abcdefghijklmnopqrstuv";
    routes(keys, {
      "POST /auth/api-keys": ({ body }: { body: unknown }) => {
        const k = { id: "k1", name: (body as { name: string }).name, prefix: "rg_live_01234567", created_at: "2026-01-02T00:00:00Z", last_used_at: null };
        keys.push(k);
        return json(201, { ...k, key: secret });
      },
      "DELETE /auth/api-keys/k1": () => {
        keys.pop();
        return new Response(null, { status: 204 });
      },
    });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    render(<MemoryRouter><SettingsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await screen.findByText("Signed in as ada@example.com");
    await user.type(screen.getByLabelText("Key name"), "laptop");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    expect((await screen.findByTestId("new-api-key")).textContent).toBe(secret);
    const row = (await screen.findByRole("cell", { name: "laptop" })).closest("tr")!;
    expect(row.textContent).toContain("rg_live_01234567…");
    expect(row.textContent).not.toContain(secret);
    expect(within(row).getByText("never")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("new-api-key")).toBeNull();
    await user.click(within(row).getByRole("button", { name: "Revoke laptop" }));
    await screen.findByText("No keys yet.");
  });

  it("saves preferences as one whole object and applies the theme", async () => {
    const { calls } = routes([], { "PUT /users/me/preferences": ({ body }: { body: unknown }) => json(200, body) });
    render(<MemoryRouter><SettingsPage /></MemoryRouter>);
    const user = userEvent.setup();
    await screen.findByRole("option", { name: "Lab" });
    await user.selectOptions(screen.getByLabelText("Default profile"), "Lab");
    await user.selectOptions(screen.getByLabelText("Theme"), "dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    await user.click(screen.getByRole("button", { name: "Save preferences" }));
    await screen.findByText("Preferences saved.");
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ default_profile: "p1", default_model: null, theme: "dark" });
  });

  it("refuses two different new passwords before calling the server", async () => {
    const { calls } = routes([]);
    await changePassword("old password here", "new password one", "new password two");
    expect((await screen.findByText(/differ/)).closest("[role=alert]")).toBeTruthy();
    expect(calls.some((c) => c.path === "/auth/change-password")).toBe(false);
  });

  it("changes the password and keeps this session with the fresh tokens", async () => {
    const { calls } = routes([], {
      "POST /auth/change-password": () => json(200, { access_token: "a2", refresh_token: "r2", token_type: "bearer", expires_in: 900 }),
    });
    await changePassword("old password here", "a brand new password", "a brand new password");
    await screen.findByText("Password changed.");
    expect(calls.find((c) => c.path === "/auth/change-password")!.body).toEqual({
      current_password: "old password here",
      new_password: "a brand new password",
      revoke_api_keys: true,
    });
    expect(api.accessToken).toBe("a2");
    expect(api.refreshToken).toBe("r2");
  });

  it("deletes the account after the password is entered again, then shows what was removed", async () => {
    const { calls } = routes([], {
      "DELETE /auth/me": () =>
        json(200, { removed: { documents: 3, conversations: 2, messages: 8, profiles: 1, usage_records: 4, api_keys: 1, sessions: 2, items: 30, files: 9, file_bytes: 1234 } }),
    });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderWithSignIn();
    const user = userEvent.setup();
    const form = (await screen.findByRole("heading", { name: "Delete account" })).closest("form")!;
    await user.type(within(form).getByLabelText("Password"), "my password");
    await user.click(within(form).getByRole("button", { name: "Delete my account" }));
    expect((await screen.findByTestId("notice")).textContent).toMatch(/3 documents, 2 conversations, 9 files and 30 records removed/);
    expect(calls.find((c) => c.method === "DELETE")).toEqual({ method: "DELETE", path: "/auth/me", body: { password: "my password" } });
    expect(api.signedIn).toBe(false);
  });
});

describe("Sessions", () => {
  it("lists the signed-in sessions and signs out everywhere", async () => {
    const { calls } = routes([], { "POST /auth/sessions/revoke-all": () => new Response(null, { status: 204 }) });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderWithSignIn();
    const user = userEvent.setup();
    expect(await screen.findByText("this session")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Sign out everywhere" }));
    expect((await screen.findByTestId("notice")).textContent).toBe("You are signed out everywhere.");
    expect(calls.some((c) => c.method === "POST" && c.path === "/auth/sessions/revoke-all")).toBe(true);
    expect(api.signedIn).toBe(false);
  });
});

/** Opens the settings screen, fills in the change-password form and sends it. */
async function changePassword(current: string, next: string, confirm: string) {
  render(<MemoryRouter><SettingsPage /></MemoryRouter>);
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Current password"), current);
  await user.type(screen.getByLabelText("New password"), next);
  await user.type(screen.getByLabelText("Confirm new password"), confirm);
  await user.click(screen.getByRole("button", { name: "Change password" }));
}

/** The settings screen, with a sign-in screen that shows the notice it was sent with. */
function renderWithSignIn() {
  return renderRoutes("/app/settings", { "/app/settings": <SettingsPage />, "/login": <LoginNotice /> });
}

function LoginNotice() {
  const location = useLocation();
  return <p data-testid="notice">{(location.state as { notice?: string } | null)?.notice}</p>;
}
