// Password reset, both steps: ask for a link by email, then choose a new password from the
// link (its token travels in the URL fragment, which the browser never sends to a server).

import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { errorMessage } from "../api/problem";
import { auth } from "../api/endpoints";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      setSent((await auth.requestPasswordReset(email.trim())).detail);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="forgot-title" noValidate>
        <h1 id="forgot-title">Reset your password</h1>
        {sent ? (
          <div role="status" className="alert">
            {sent}
          </div>
        ) : (
          <>
            <p className="muted">We mail you a link to choose a new password.</p>
            <label>
              Email
              <input
                type="email"
                name="email"
                autoComplete="email"
                required
                autoFocus
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            </label>
            {error ? (
              <div role="alert" className="alert error">
                {error}
              </div>
            ) : null}
            <button type="submit" disabled={busy || !email}>
              {busy ? "Please wait…" : "Send the link"}
            </button>
          </>
        )}
        <p className="muted">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </div>
  );
}

/** The token of a reset link: `#token=…` in the URL. */
export function tokenFromHash(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("token") ?? "";
}

export function ResetPasswordPage() {
  const navigate = useNavigate();
  const [token] = useState(() => tokenFromHash(window.location.hash));
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (password !== confirm) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    try {
      await auth.confirmPasswordReset(token, password);
      // The token is spent: keep it out of the history.
      window.history.replaceState(null, "", window.location.pathname);
      navigate("/login", { replace: true, state: { notice: "Your password is changed. Sign in with it." } });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="reset-title" noValidate>
        <h1 id="reset-title">Choose a new password</h1>
        {!token ? (
          <div role="alert" className="alert error">
            This page needs the link from the reset mail. <Link to="/forgot-password">Ask for one</Link>.
          </div>
        ) : (
          <>
            <p className="muted">Every device signed in to your account will be signed out.</p>
            <label>
              New password
              <input
                type="password"
                name="password"
                autoComplete="new-password"
                required
                autoFocus
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            <label>
              Confirm new password
              <input
                type="password"
                name="confirm"
                autoComplete="new-password"
                required
                value={confirm}
                onChange={(e) => setConfirm(e.target.value)}
              />
            </label>
            {error ? (
              <div role="alert" className="alert error">
                {error}
              </div>
            ) : null}
            <button type="submit" disabled={busy || !password}>
              {busy ? "Please wait…" : "Set the new password"}
            </button>
          </>
        )}
        <p className="muted">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </div>
  );
}
