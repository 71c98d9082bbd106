// Password reset, both steps: ask for a link by email, then choose a new password from the
// link (its token travels in the URL fragment, which the browser never sends to a server).

import { useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { errorMessage } from "../api/problem";
import { auth } from "../api/endpoints";
import { FormError } from "../components/Notice";
import { TextField } from "../components/TextField";

/** The card of both steps: its title, the step's form, and the way back to sign in. */
function ResetCard({ id, title, onSubmit, children }: { id: string; title: string; onSubmit: (e: FormEvent) => void; children: ReactNode }) {
  return (
    <div className="auth-page">
      <form className="card auth-card" onSubmit={onSubmit} aria-labelledby={id} noValidate>
        <h1 id={id}>{title}</h1>
        {children}
        <p className="muted">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </div>
  );
}

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
    <ResetCard id="forgot-title" title="Reset your password" onSubmit={submit}>
      {sent ? (
        <div role="status" className="alert">
          {sent}
        </div>
      ) : (
        <>
          <p className="muted">We mail you a link to choose a new password.</p>
          <TextField label="Email" type="email" name="email" autoComplete="email" required autoFocus value={email} onChange={setEmail} />
          <FormError message={error} />
          <button type="submit" disabled={busy || !email}>
            {busy ? "Please wait…" : "Send the link"}
          </button>
        </>
      )}
    </ResetCard>
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
    <ResetCard id="reset-title" title="Choose a new password" onSubmit={submit}>
      {!token ? (
        <div role="alert" className="alert error">
          This page needs the link from the reset mail. <Link to="/forgot-password">Ask for one</Link>.
        </div>
      ) : (
        <>
          <p className="muted">Every device signed in to your account will be signed out.</p>
          <TextField
            label="New password"
            type="password"
            name="password"
            autoComplete="new-password"
            required
            autoFocus
            value={password}
            onChange={setPassword}
          />
          <TextField label="Confirm new password" type="password" name="confirm" autoComplete="new-password" required value={confirm} onChange={setConfirm} />
          <FormError message={error} />
          <button type="submit" disabled={busy || !password}>
            {busy ? "Please wait…" : "Set the new password"}
          </button>
        </>
      )}
    </ResetCard>
  );
}
