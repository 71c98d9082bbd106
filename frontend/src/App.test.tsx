import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { api } from "./api/client";
import { App } from "./App";
import { type Handler, installFetch, json, problem } from "./test/fakeFetch";
import { renderInRouter } from "./test/render";

function renderAt(path: string) {
  return renderInRouter(path, <App />, { auth: true });
}

/** The endpoints the usage screen and the shell read, enough to render a signed-in screen. */
const SIGNED_IN: Record<string, Handler> = {
  "GET /users/me/preferences": () => json(200, { theme: "dark" }),
  "GET /usage": ({ url }) =>
    json(200, {
      from: url.searchParams.get("from"),
      to: url.searchParams.get("to"),
      days: [],
      models: [],
      total_cost_usd: 0,
      total_input_tokens: 0,
      total_output_tokens: 0,
    }),
  "GET /usage/budget": () => json(200, {}),
  "GET /profiles": () => json(200, { items: [] }),
};

beforeEach(() => {
  delete document.documentElement.dataset.theme;
});
afterEach(() => {
  api.setTokens(null);
});

describe("App routes", () => {
  it("sends a signed-out visitor of a screen to sign-in, and back to that screen after signing in", async () => {
    const { calls } = installFetch({
      ...SIGNED_IN,
      "POST /auth/login": () => json(200, { access_token: "a1", refresh_token: "r1", token_type: "bearer", expires_in: 900 }),
    });
    renderAt("/app/usage");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Email"), "ada@example.com");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Usage" })).toBeTruthy();
    expect(calls.find((c) => c.path === "/auth/login")!.body).toEqual({ email: "ada@example.com", password: "correct horse battery" });
    expect(api.signedIn).toBe(true);
  });

  it("does not show the sign-in screen to someone signed in, and sends unknown paths to chat", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch(SIGNED_IN);
    renderAt("/login");
    // /app/chat is lazy; the shell's navigation is there at once and marks the chat link.
    const chatLink = await screen.findByRole("link", { name: "Chat" });
    await waitFor(() => expect(chatLink.className).toBe("active"));
    expect(screen.queryByLabelText("Password")).toBeNull();
  });

  it("applies the theme saved in the account's preferences once signed in", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch(SIGNED_IN);
    renderAt("/app/usage");
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("dark"));
  });

  it("keeps the local theme when the preferences cannot be read", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch({ ...SIGNED_IN, "GET /users/me/preferences": () => problem(500, "table unavailable") });
    renderAt("/app/usage");
    expect(await screen.findByRole("heading", { name: "Usage" })).toBeTruthy();
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it("signs out: revokes the refresh token, forgets the tokens and shows sign-in", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r-123" });
    const { calls } = installFetch({ ...SIGNED_IN, "POST /auth/logout": () => new Response(null, { status: 204 }) });
    renderAt("/app/usage");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByLabelText("Password")).toBeTruthy();
    expect(calls.find((c) => c.path === "/auth/logout")!.body).toEqual({ refresh_token: "r-123" });
    expect(api.signedIn).toBe(false);
    expect(api.refreshToken).toBeFalsy();
  });

  it("signs out locally even when the server cannot be reached", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch({ ...SIGNED_IN, "POST /auth/logout": () => Promise.reject(new TypeError("Failed to fetch")) });
    renderAt("/app/usage");
    await userEvent.setup().click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByLabelText("Password")).toBeTruthy();
    expect(api.signedIn).toBe(false);
  });

  it("folds the navigation into a menu that opens, closes with Escape and closes on going somewhere", async () => {
    api.setTokens({ access_token: "a", refresh_token: "r" });
    installFetch(SIGNED_IN);
    renderAt("/app/usage");
    const user = userEvent.setup();
    const toggle = await screen.findByRole("button", { name: "Menu" });
    const menu = document.getElementById(toggle.getAttribute("aria-controls")!)!;
    const header = menu.closest("header")!;
    expect(menu.contains(screen.getByRole("navigation", { name: "Main" }))).toBe(true);
    expect(menu.contains(screen.getByRole("button", { name: "Sign out" }))).toBe(true);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    await user.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(header.className).toContain("open");
    await user.keyboard("{Escape}");
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(document.activeElement).toBe(toggle);
    await user.click(toggle);
    await user.click(screen.getByRole("link", { name: "Settings" }));
    await waitFor(() => expect(toggle.getAttribute("aria-expanded")).toBe("false"));
  });
});
