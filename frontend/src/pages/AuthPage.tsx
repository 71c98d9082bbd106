// Sign in and sign up: one form, two modes.

import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { ApiError, errorMessage } from "../api/problem";
import { useAuth } from "../auth";
import { FormError } from "../components/Notice";
import { TextField } from "../components/TextField";

export function AuthPage({ mode }: { mode: "signin" | "signup" }) {
  const { signIn, signUp } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLInputElement>(null);
  const signup = mode === "signup";
  // An invite link (/register?invite=…) carries its token; the server may also ask for one.
  const linkInvite = new URLSearchParams(location.search).get("invite") ?? "";
  const [invite, setInvite] = useState(linkInvite);
  const [askInvite, setAskInvite] = useState(false);

  useEffect(() => {
    setError(null);
    emailRef.current?.focus();
  }, [mode]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (signup && password !== confirm) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    try {
      if (signup) await signUp(email.trim(), password, invite.trim() || undefined);
      else await signIn(email.trim(), password);
      const from = (location.state as { from?: string } | null)?.from;
      navigate(from?.startsWith("/app/") ? from : "/app/chat", { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.field === "invite") setAskInvite(true);
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title" noValidate>
        <h1 id="auth-title">{signup ? "Create your RaGenie account" : "Sign in to RaGenie"}</h1>
        <p className="muted">
          {(location.state as { notice?: string } | null)?.notice ??
            (signup && linkInvite ? "You were invited: choose your email and password." : "Chat with your documents.")}
        </p>
        <TextField label="Email" ref={emailRef} type="email" name="email" autoComplete="email" required value={email} onChange={setEmail} />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete={signup ? "new-password" : "current-password"}
          required
          value={password}
          onChange={setPassword}
        />
        {signup ? (
          <TextField label="Confirm password" type="password" name="confirm" autoComplete="new-password" required value={confirm} onChange={setConfirm} />
        ) : null}
        {signup && (askInvite || (invite && !linkInvite)) ? (
          <TextField label="Invite code" name="invite" autoComplete="off" value={invite} onChange={setInvite} />
        ) : null}
        <FormError message={error} />
        <button type="submit" disabled={busy || !email || !password}>
          {busy ? "Please wait…" : signup ? "Sign up" : "Sign in"}
        </button>
        <p className="muted">
          {signup ? (
            <>
              Already have an account? <Link to="/login">Sign in</Link>
            </>
          ) : (
            <>
              New here? <Link to="/signup">Create an account</Link> · <Link to="/forgot-password">Forgot your password?</Link>
            </>
          )}
        </p>
      </form>
    </main>
  );
}
