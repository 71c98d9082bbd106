import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { installFetch, json, problem } from "../test/fakeFetch";
import { renderRoutes } from "../test/render";
import { AuthPage } from "./AuthPage";
import { ForgotPasswordPage, ResetPasswordPage, tokenFromHash } from "./PasswordResetPages";

function renderAt(path: string) {
  return renderRoutes(
    path,
    { "/login": <AuthPage mode="signin" />, "/forgot-password": <ForgotPasswordPage />, "/reset-password": <ResetPasswordPage /> },
    { auth: true },
  );
}

afterEach(() => {
  api.setTokens(null);
  vi.unstubAllGlobals();
  window.location.hash = "";
});

describe("password reset", () => {
  it("asks for a link and shows the server's answer, which does not say whether the account exists", async () => {
    const { calls } = installFetch({
      "POST /auth/password-reset": () => json(202, { detail: "If an account has this email, a link is on its way." }),
    });
    renderAt("/forgot-password");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Email"), " ada@example.com ");
    await user.click(screen.getByRole("button", { name: "Send the link" }));
    expect((await screen.findByRole("status")).textContent).toContain("If an account has this email");
    expect(calls).toEqual([{ method: "POST", path: "/auth/password-reset", body: { email: "ada@example.com" } }]);
  });

  it("sets the new password with the token from the link, then offers sign-in", async () => {
    window.location.hash = "#token=01ABC.secret";
    const { calls } = installFetch({ "POST /auth/password-reset/confirm": () => new Response(null, { status: 204 }) });
    renderAt("/reset-password");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("New password"), "a brand new passphrase");
    await user.type(screen.getByLabelText("Confirm new password"), "a brand new passphrase");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));
    expect(await screen.findByText("Your password is changed. Sign in with it.")).toBeTruthy();
    expect(calls[0].body).toEqual({ token: "01ABC.secret", new_password: "a brand new passphrase" });
  });

  it("shows why a used or expired link is refused", async () => {
    window.location.hash = "#token=01ABC.used";
    installFetch({ "POST /auth/password-reset/confirm": () => problem(401, "this reset link is invalid, already used or expired") });
    renderAt("/reset-password");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("New password"), "a brand new passphrase");
    await user.type(screen.getByLabelText("Confirm new password"), "a brand new passphrase");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/already used or expired/i);
  });

  it("reads the token from the fragment only", () => {
    expect(tokenFromHash("#token=abc.def")).toBe("abc.def");
    expect(tokenFromHash("")).toBe("");
  });
});
