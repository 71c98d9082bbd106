import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { AuthProvider } from "../auth";
import { installFetch, json, problem } from "../test/fakeFetch";
import { AuthPage } from "./AuthPage";

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider>
        <Routes>
          <Route path="/login" element={<AuthPage mode="signin" />} />
          <Route path="/signup" element={<AuthPage mode="signup" />} />
          <Route path="/app/chat" element={<p>chat screen</p>} />
        </Routes>
      </AuthProvider>
    </MemoryRouter>,
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
});
