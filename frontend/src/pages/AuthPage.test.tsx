import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { installFetch, json, problem } from "../test/fakeFetch";
import { renderRoutes } from "../test/render";
import { AuthPage } from "./AuthPage";

function renderAt(path: string) {
  return renderRoutes(
    path,
    {
      "/login": <AuthPage mode="signin" />,
      "/signup": <AuthPage mode="signup" />,
      "/register": <AuthPage mode="signup" />,
      "/app/chat": <p>chat screen</p>,
    },
    { auth: true },
  );
}

afterEach(() => {
  api.setTokens(null);
  vi.unstubAllGlobals();
});

describe("AuthPage", () => {
  it("signs up, keeps the tokens and opens chat", async () => {
    const { calls } = installFetch({
      "POST /auth/register": () => json(201, { access_token: "a", refresh_token: "r", token_type: "bearer", expires_in: 900 }),
    });
    renderAt("/signup");
    const user = userEvent.setup();
    expect(document.activeElement).toBe(screen.getByLabelText("Email"));
    await user.type(screen.getByLabelText("Email"), " ada@example.com ");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.type(screen.getByLabelText("Confirm password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect(await screen.findByText("chat screen")).toBeTruthy();
    expect(calls[0]).toEqual({ method: "POST", path: "/auth/register", body: { email: "ada@example.com", password: "correct horse battery" } });
    expect(api.accessToken).toBe("a");
    expect(JSON.parse(localStorage.getItem("ragenie.tokens")!).refresh_token).toBe("r");
  });

  it("shows the server's reason when sign-in is refused, and stays signed out", async () => {
    installFetch({ "POST /auth/login": () => problem(401, "wrong email or password") });
    renderAt("/login");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Email"), "ada@example.com");
    await user.type(screen.getByLabelText("Password"), "nope{Enter}");
    expect((await screen.findByRole("alert")).textContent).toBe("Wrong email or password");
    expect(api.signedIn).toBe(false);
  });

  it("refuses two different passwords before calling the server", async () => {
    const { calls } = installFetch({});
    renderAt("/signup");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Email"), "ada@example.com");
    await user.type(screen.getByLabelText("Password"), "one password");
    await user.type(screen.getByLabelText("Confirm password"), "another one");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/differ/);
    expect(calls).toHaveLength(0);
  });

  it("signs up with the invite of an invite link", async () => {
    const { calls } = installFetch({
      "POST /auth/register": () => json(201, { access_token: "a", refresh_token: "r", token_type: "bearer", expires_in: 900 }),
    });
    renderAt("/register?invite=TOKEN123");
    const user = userEvent.setup();
    expect(screen.getByText("You were invited: choose your email and password.")).toBeTruthy();
    await user.type(screen.getByLabelText("Email"), "guest@example.com");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.type(screen.getByLabelText("Confirm password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    await screen.findByText("chat screen");
    expect(calls[0].body).toEqual({ email: "guest@example.com", password: "correct horse battery", invite: "TOKEN123" });
  });

  it("asks for an invite code when the server needs one", async () => {
    let attempt = 0;
    const { calls } = installFetch({
      "POST /auth/register": () =>
        ++attempt === 1
          ? json(422, { type: "urn:ragenie:problem:validation", title: "Unprocessable Entity", status: 422, detail: "registration needs an invite on this server", field: "invite" })
          : json(201, { access_token: "a", refresh_token: "r", token_type: "bearer", expires_in: 900 }),
    });
    renderAt("/signup");
    const user = userEvent.setup();
    expect(screen.queryByLabelText("Invite code")).toBeNull();
    await user.type(screen.getByLabelText("Email"), "guest@example.com");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.type(screen.getByLabelText("Confirm password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect((await screen.findByRole("alert")).textContent).toContain("registration needs an invite");
    await user.type(screen.getByLabelText("Invite code"), "CODE9");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    await screen.findByText("chat screen");
    expect(calls[1].body).toEqual({ email: "guest@example.com", password: "correct horse battery", invite: "CODE9" });
  });
});
