// Settings: password, personal API keys (the value shown once), default profile and model,
// theme, the account's sessions and security activity (its audit trail), and deleting the account.

import { useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api } from "../api/client";
import { auth, chat, modelItems, preferences, profiles } from "../api/endpoints";
import type { ApiKey, AuditEvent, CreatedApiKey, Preferences, Theme } from "../api/models";
import { ErrorAlert } from "../components/ErrorAlert";
import { ACTIONS_COLUMN, DataTable } from "../components/DataTable";
import { Notice } from "../components/Notice";
import { ModelOptions, ProfileOptions } from "../components/Options";
import { TextField } from "../components/TextField";
import { formatDate } from "../lib/format";
import { applyTheme, savedTheme } from "../lib/theme";
import { useAsync } from "../lib/useAsync";
import { copyText } from "./chat/copy";

export default function SettingsPage() {
  const me = useAsync(() => auth.me(), []);
  return (
    <div className="page">
      <h1>Settings</h1>
      <ErrorAlert error={me.error} onRetry={me.reload} context="Account" />
      {me.data ? <p className="muted">Signed in as {me.data.email}</p> : null}
      <Defaults />
      <PasswordForm />
      <ApiKeys />
      <Sessions />
      <SecurityActivity />
      <DeleteAccount />
    </div>
  );
}

const ACTIONS: Record<string, string> = {
  sign_in_succeeded: "Signed in",
  sign_in_failed: "Sign-in refused",
  password_changed: "Password changed",
  password_reset: "Password reset",
  api_key_created: "API key created",
  api_key_revoked: "API key revoked",
  refresh_family_revoked: "Session ended",
  sessions_revoked: "All sessions signed out",
  account_deleted: "Account deleted",
};

const DETAILS: Record<string, string> = {
  wrong_password: "wrong password",
  throttled: "too many attempts",
  sign_out: "signed out",
  token_reuse: "a used sign-in token came back; the session was ended to be safe",
  other_sessions_signed_out: "other sessions signed out",
};

function SecurityActivity() {
  const first = useAsync(() => auth.audit(), []);
  const [more, setMore] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const next = cursor === undefined ? first.data?.next_cursor : cursor;
  const events = [...(first.data?.items ?? []), ...more];

  async function loadMore() {
    if (!next) return;
    setError(null);
    try {
      const page = await auth.audit(next);
      setMore((m) => [...m, ...page.items]);
      setCursor(page.next_cursor ?? null);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="card" aria-labelledby="activity-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="activity-title">Security activity</h2>
      <p className="muted small">
        Sign-ins, refused sign-ins, password changes, API keys and ended sessions on your account, newest first. Kept for a
        year. Something you do not recognise? Change your password and revoke your API keys.
      </p>
      <ErrorAlert error={first.error} onRetry={first.reload} context="Security activity" />
      <ErrorAlert error={error} />
      {first.data ? (
        <DataTable
          columns={["When", "What", "From", "Request id"]}
          rows={events}
          empty="No activity yet."
          row={(e) => (
            <tr key={e.id}>
              <td className="small">{formatDate(e.at)}</td>
              <td>
                {ACTIONS[e.action] ?? e.action}
                {e.detail ? <span className="muted small"> ({DETAILS[e.detail] ?? e.detail})</span> : null}
              </td>
              <td className="small">{e.address}</td>
              <td className="small">
                <code>{e.request_id}</code>
              </td>
            </tr>
          )}
        />
      ) : null}
      {next ? (
        <button type="button" className="secondary" onClick={loadMore}>
          Show older activity
        </button>
      ) : null}
    </section>
  );
}

function Defaults() {
  const prefs = useAsync(() => preferences.get(), []);
  const profileList = useAsync(() => profiles.list(), []);
  const models = useAsync(() => chat.models(), []);
  const [form, setForm] = useState<Preferences>({ theme: savedTheme() });
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (prefs.data) setForm({ ...prefs.data, theme: prefs.data.theme ?? savedTheme() });
  }, [prefs.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setStatus(null);
    setError(null);
    applyTheme((form.theme ?? "system") as Theme);
    try {
      const saved = await preferences.put({
        default_profile: form.default_profile || null,
        default_model: form.default_model || null,
        theme: form.theme ?? "system",
      });
      if (saved) prefs.setData(saved);
      setStatus("Preferences saved.");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="card" onSubmit={save} aria-labelledby="defaults-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="defaults-title">Defaults and appearance</h2>
      <ErrorAlert error={prefs.error} onRetry={prefs.reload} context="Preferences" />
      <div className="form-grid">
        <label>
          Default profile
          <select value={form.default_profile ?? ""} onChange={(e) => setForm({ ...form, default_profile: e.target.value || null })}>
            <option value="">None</option>
            <ProfileOptions profiles={profileList.data?.items ?? []} />
          </select>
        </label>
        <label>
          Default model
          <select value={form.default_model ?? ""} onChange={(e) => setForm({ ...form, default_model: e.target.value || null })}>
            <option value="">First available</option>
            <ModelOptions models={modelItems(models.data)} />
          </select>
        </label>
        <label>
          Theme
          <select
            value={form.theme ?? "system"}
            onChange={(e) => {
              const theme = e.target.value as Theme;
              setForm({ ...form, theme });
              applyTheme(theme);
            }}
          >
            <option value="system">Same as the system</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </div>
      <ErrorAlert error={error} />
      <Notice>{status}</Notice>
      <div>
        <button type="submit">Save preferences</button>
      </div>
    </form>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [revokeKeys, setRevokeKeys] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setDone(false);
    if (next !== confirm) {
      setError(new Error("The two new passwords differ."));
      return;
    }
    try {
      await auth.changePassword(current, next, revokeKeys);
      setDone(true);
      setCurrent("");
      setNext("");
      setConfirm("");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-labelledby="password-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="password-title">Change password</h2>
      <p className="muted small">Other devices are signed out when the password changes.</p>
      <div className="form-grid">
        <TextField label="Current password" type="password" autoComplete="current-password" required value={current} onChange={setCurrent} />
        <TextField label="New password" type="password" autoComplete="new-password" required value={next} onChange={setNext} />
        <TextField label="Confirm new password" type="password" autoComplete="new-password" required value={confirm} onChange={setConfirm} />
      </div>
      <label className="inline">
        <input type="checkbox" checked={revokeKeys} onChange={(e) => setRevokeKeys(e.target.checked)} />
        Also revoke my API keys
      </label>
      <ErrorAlert error={error} />
      <Notice>{done && "Password changed."}</Notice>
      <div>
        <button type="submit" disabled={!current || !next || !confirm}>
          Change password
        </button>
      </div>
    </form>
  );
}

function ApiKeys() {
  const keys = useAsync(() => auth.listKeys(), []);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setCopied(false);
    try {
      setCreated(await auth.createKey(name.trim(), password || undefined));
      setName("");
      setPassword("");
      await keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  async function revoke(k: ApiKey) {
    if (!window.confirm(`Revoke the key “${k.name}”? Scripts using it stop working.`)) return;
    setError(null);
    try {
      await auth.revokeKey(k.id);
      await keys.reload();
    } catch (err) {
      setError(err);
    }
  }

  const secret = created?.key;
  return (
    <section className="card" aria-labelledby="keys-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="keys-title">Personal API keys</h2>
      <p className="muted small">
        For scripts and OpenAI-compatible clients (<code>/v1/chat/completions</code>). A key is shown once, when it is created.
      </p>
      <form className="row" onSubmit={create}>
        <TextField label="Key name" labelClassName="inline" required maxLength={100} value={name} onChange={setName} placeholder="e.g. laptop script" />
        <TextField
          label="Your password"
          labelClassName="inline"
          type="password"
          name="key-password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          placeholder="not needed right after signing in"
        />
        <button type="submit" disabled={!name.trim()}>
          Create key
        </button>
      </form>
      {created && secret ? (
        <div className="alert warn" role="status">
          <span>
            New key “{created.name}”: <code data-testid="new-api-key">{secret}</code>. Copy it now; it will not be shown again.
          </span>
          <button
            type="button"
            className="secondary"
            onClick={async () => setCopied(await copyText(secret))}
          >
            {copied ? "Copied" : "Copy"}
          </button>
          <button type="button" className="link" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      ) : null}
      <ErrorAlert error={error} />
      <ErrorAlert error={keys.error} onRetry={keys.reload} context="API keys" />
      {keys.data ? (
        <DataTable
          columns={["Name", "Prefix", "Created", "Last used", ACTIONS_COLUMN]}
          rows={keys.data.items}
          empty="No keys yet."
          row={(k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td className="small">{formatDate(k.created_at)}</td>
              <td className="small">{k.last_used_at ? formatDate(k.last_used_at) : "never"}</td>
              <td>
                <button type="button" className="icon" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                  Revoke
                </button>
              </td>
            </tr>
          )}
        />
      ) : null}
    </section>
  );
}

function DeleteAccount() {
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!window.confirm("Delete your account and everything in it? This cannot be undone.")) return;
    setBusy(true);
    try {
      const { removed } = await auth.deleteAccount(password);
      const notice =
        `Your account is deleted: ${removed.documents} documents, ${removed.conversations} conversations, ` +
        `${removed.files} files and ${removed.items} records removed.`;
      api.setTokens(null);
      navigate("/login", { replace: true, state: { notice } });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <form className="card danger-zone" onSubmit={submit} aria-labelledby="delete-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="delete-title">Delete account</h2>
      <p className="muted">
        Deletes your documents and their files, profiles, conversations, usage, sessions and API keys, at once and for
        good. Export what you want to keep first (each conversation&apos;s Export, or <code>ragenie export</code>).
      </p>
      <TextField label="Password" type="password" name="delete-password" autoComplete="current-password" required value={password} onChange={setPassword} />
      <ErrorAlert error={error} context="Deleting the account" />
      <button type="submit" className="danger" disabled={busy || !password}>
        {busy ? "Deleting…" : "Delete my account"}
      </button>
    </form>
  );
}

function Sessions() {
  const sessions = useAsync(() => auth.listSessions(), []);
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);

  async function everywhere() {
    if (!window.confirm("Sign out on every device, this one included?")) return;
    setError(null);
    try {
      await auth.revokeAllSessions();
      api.setTokens(null);
      navigate("/login", { replace: true, state: { notice: "You are signed out everywhere." } });
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="card" aria-labelledby="sessions-title" style={{ display: "flex", flexDirection: "column", gap: "0.8rem" }}>
      <h2 id="sessions-title">Signed-in sessions</h2>
      <p className="muted small">Browsers and apps signed in to your account. API keys and their last use are listed above.</p>
      <ErrorAlert error={error} />
      <ErrorAlert error={sessions.error} onRetry={sessions.reload} context="Sessions" />
      {sessions.data ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Signed in</th>
                <th>Last active</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sessions.data.items.map((s) => (
                <tr key={s.id}>
                  <td>{formatDate(s.created_at)}</td>
                  <td>{s.last_used_at ? formatDate(s.last_used_at) : "—"}</td>
                  <td>{s.current ? <span className="badge">this session</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div>
        <button type="button" className="danger" onClick={everywhere}>
          Sign out everywhere
        </button>
      </div>
    </section>
  );
}
