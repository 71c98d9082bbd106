// Who may sign up (the registration policy), the default quota and the per-user limits; and
// invites: single-use links with an expiry, the link shown once, open invites listed and revocable.

import { useEffect, useState, type FormEvent } from "react";
import { admin } from "../../api/endpoints";
import type { CreatedInvite, Invite, OperatorSettings, RegistrationPolicy } from "../../api/models";
import { CopyField } from "../../components/CopyField";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ACTIONS_COLUMN, DataTable } from "../../components/DataTable";
import { Loading, Notice } from "../../components/Notice";
import { formatDate } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";

const POLICIES: { value: RegistrationPolicy; label: string; hint: string }[] = [
  { value: "open", label: "Open", hint: "anyone who reaches this site can sign up and use it at once" },
  { value: "approval", label: "With approval", hint: "new accounts wait until an admin approves them (Users, above)" },
  { value: "invite", label: "Only with an invite", hint: "sign-up needs a single-use invite link (Invites, below)" },
  { value: "closed", label: "Closed", hint: "nobody can sign up" },
];

interface SettingsForm {
  registration: RegistrationPolicy;
  quota: string;
  perMinute: string;
  concurrent: string;
}

function toForm(s: OperatorSettings): SettingsForm {
  return {
    registration: s.registration,
    quota: s.default_monthly_quota_usd != null ? String(s.default_monthly_quota_usd) : "",
    perMinute: String(s.requests_per_minute),
    concurrent: String(s.max_concurrent_answers),
  };
}

export function RegistrationSection() {
  const settings = useAsync(() => admin.settings(), []);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (settings.data) setForm(toForm(settings.data));
  }, [settings.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setError(null);
    setSaved(false);
    const quota = form.quota.trim() === "" ? null : Number(form.quota);
    if (quota !== null && (!Number.isFinite(quota) || quota < 0)) {
      setError(new Error("The default quota is an amount in US dollars, 0 or more, or empty for no limit."));
      return;
    }
    try {
      const next = await admin.saveSettings({
        registration: form.registration,
        default_monthly_quota_usd: quota,
        requests_per_minute: Number(form.perMinute),
        max_concurrent_answers: Number(form.concurrent),
      });
      settings.setData(next);
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="card stack" onSubmit={save} aria-labelledby="registration-title">
      <h2 id="registration-title">Sign-up and limits</h2>
      <ErrorAlert error={settings.error} onRetry={settings.reload} context="Settings" />
      {form ? (
        <>
          <fieldset>
            <legend>Who may sign up</legend>
            <div className="stack tight">
              {POLICIES.map((p) => (
                <label key={p.value} className="inline">
                  <input
                    type="radio"
                    name="registration"
                    value={p.value}
                    checked={form.registration === p.value}
                    onChange={() => setForm({ ...form, registration: p.value })}
                  />
                  <span>
                    {p.label} <span className="muted small">— {p.hint}</span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          <div className="form-grid">
            <label>
              Default monthly quota per user (USD)
              <input type="number" min={0} step="0.01" placeholder="no limit" value={form.quota} onChange={(e) => setForm({ ...form, quota: e.target.value })} />
            </label>
            <label>
              Answers per minute per user
              <input type="number" min={1} max={10000} required value={form.perMinute} onChange={(e) => setForm({ ...form, perMinute: e.target.value })} />
            </label>
            <label>
              Answers at once per user
              <input type="number" min={1} max={100} required value={form.concurrent} onChange={(e) => setForm({ ...form, concurrent: e.target.value })} />
            </label>
          </div>
          <p className="muted small">Every server applies these at its next request. Quotas cover the web chat and the OpenAI-compatible API alike.</p>
          <ErrorAlert error={error} />
          <Notice>{saved && "Settings saved."}</Notice>
          <div>
            <button type="submit">Save settings</button>
          </div>
        </>
      ) : settings.loading ? (
        <Loading />
      ) : null}
    </form>
  );
}

const EXPIRIES = [
  { hours: 24, label: "1 day" },
  { hours: 72, label: "3 days" },
  { hours: 168, label: "7 days" },
  { hours: 720, label: "30 days" },
];

/** The link a new user opens; the sign-up screen reads the token from it. */
export function inviteLink(token: string): string {
  return `${window.location.origin}/register?invite=${encodeURIComponent(token)}`;
}

export function InvitesSection() {
  const invites = useAsync(() => admin.invites(), []);
  const [hours, setHours] = useState(72);
  const [created, setCreated] = useState<CreatedInvite | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await admin.createInvite(hours));
      await invites.reload();
    } catch (err) {
      setError(err);
    }
  }

  async function revoke(invite: Invite) {
    if (!window.confirm("Revoke this invite? Its link stops working.")) return;
    setError(null);
    try {
      await admin.revokeInvite(invite.id);
      if (created?.id === invite.id) setCreated(null);
      await invites.reload();
    } catch (err) {
      setError(err);
    }
  }

  const items = invites.data?.items ?? [];
  return (
    <section className="card stack" aria-labelledby="invites-title">
      <h2 id="invites-title">Invites</h2>
      <p className="muted small">A single-use link to create one account. It works while sign-up is “Only with an invite”.</p>
      <form className="row" onSubmit={create}>
        <label className="inline">
          Valid for
          <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {EXPIRIES.map((x) => (
              <option key={x.hours} value={x.hours}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Create invite</button>
      </form>
      {created ? (
        <div className="alert ok stack tight" role="status">
          <span>Invite created. Copy the link now: it is shown only once.</span>
          <CopyField label="Invite link" value={inviteLink(created.token)} />
        </div>
      ) : null}
      <ErrorAlert error={invites.error} onRetry={invites.reload} context="Invites" />
      <ErrorAlert error={error} />
      {invites.data ? (
        <DataTable
          columns={["Invite", "Created", "Expires", ACTIONS_COLUMN]}
          rows={items}
          empty="No open invites."
          row={(i) => (
            <tr key={i.id}>
              <td>
                <code>{i.id.slice(0, 8)}</code>
              </td>
              <td className="small">{formatDate(i.created_at)}</td>
              <td className="small">{formatDate(new Date(i.expires_at * 1000).toISOString())}</td>
              <td>
                <button type="button" className="secondary" onClick={() => revoke(i)}>
                  Revoke <span className="visually-hidden">invite {i.id.slice(0, 8)}</span>
                </button>
              </td>
            </tr>
          )}
        />
      ) : null}
    </section>
  );
}
