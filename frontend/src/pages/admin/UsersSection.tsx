// Accounts: search by email, filter by status, this month's spending against the quota, and what
// an admin does to an account (approve, suspend, reactivate, role, quota override, reset link,
// allowed models, delete).

import { useEffect, useRef, useState, type FormEvent } from "react";
import { useAccount } from "../../account";
import { admin } from "../../api/endpoints";
import type { AccountStatus, AdminUser, ResetLink, Role, UserChange } from "../../api/models";
import { CopyField } from "../../components/CopyField";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ACTIONS_COLUMN, DataTable } from "../../components/DataTable";
import { Loading, Notice } from "../../components/Notice";
import { formatCost, formatDate } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";

const STATUS_LABEL: Record<AccountStatus, string> = { active: "active", pending: "waiting for approval", suspended: "suspended" };

/** The one status change the row offers: approve a pending account, suspend an active one… */
function statusAction(u: AdminUser): { label: string; to: "active" | "suspended" } {
  if (u.status === "pending") return { label: "Approve", to: "active" };
  if (u.status === "suspended") return { label: "Reactivate", to: "active" };
  return { label: "Suspend", to: "suspended" };
}

export function UsersSection() {
  const { me } = useAccount();
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [status, setStatus] = useState<AccountStatus | "">("");
  const list = useAsync(() => admin.users({ q, status }), [q, status]);
  const [more, setMore] = useState<AdminUser[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [managing, setManaging] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  // A new search starts from its first page.
  useEffect(() => {
    setMore([]);
    setCursor(undefined);
  }, [list.data]);

  const users = [...(list.data?.items ?? []), ...more];
  const next = cursor === undefined ? list.data?.next_cursor : cursor;
  const selected = users.find((u) => u.id === managing) ?? null;

  function replace(updated: AdminUser) {
    if (list.data) list.setData({ ...list.data, items: list.data.items.map((u) => (u.id === updated.id ? updated : u)) });
    setMore((m) => m.map((u) => (u.id === updated.id ? updated : u)));
  }

  async function act(work: () => Promise<string>) {
    setError(null);
    setNotice(null);
    try {
      setNotice(await work());
    } catch (e) {
      setError(e);
    }
  }

  const changeStatus = (u: AdminUser) =>
    act(async () => {
      const { to } = statusAction(u);
      replace(await admin.update(u.id, { status: to }));
      return `${u.email}: ${u.status === "pending" ? "approved" : to === "active" ? "reactivated" : "suspended"}.`;
    });

  async function loadMore() {
    if (!next) return;
    setError(null);
    try {
      const page = await admin.users({ q, status, cursor: next });
      setMore((m) => [...m, ...page.items]);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section className="card stack" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(search.trim());
        }}
      >
        <label className="inline">
          Email contains
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <button type="submit" className="secondary">
          Search
        </button>
        <label className="inline">
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as AccountStatus | "")}>
            <option value="">All</option>
            <option value="pending">Waiting for approval</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
          </select>
        </label>
      </form>
      <ErrorAlert error={list.error} onRetry={list.reload} context="Users" />
      <ErrorAlert error={error} />
      <Notice>{notice}</Notice>
      {list.loading && !list.data ? <Loading /> : null}
      {list.data || users.length > 0 ? (
        <DataTable
          columns={["Email", "Role", "Status", { label: "This month", num: true }, { label: "Quota", num: true }, ACTIONS_COLUMN]}
          rows={users}
          empty="No account matches."
          row={(u) => {
            const self = u.id === me?.id;
            const action = statusAction(u);
            return (
              <tr key={u.id} data-testid="admin-user-row">
                <td>
                  <span>
                    {u.email}
                    {self ? <span className="muted small"> (you)</span> : null}
                  </span>
                </td>
                <td>{u.role ?? "user"}</td>
                <td>
                  <span className={`badge ${u.status === "active" ? "ready" : u.status === "suspended" ? "failed" : "pending"}`}>
                    {STATUS_LABEL[u.status ?? "active"]}
                  </span>
                </td>
                <td className="num">
                  {formatCost(u.month.spent_usd)}
                  {u.month.committed_usd > u.month.spent_usd ? (
                    <span className="muted small"> ({formatCost(u.month.committed_usd)} held)</span>
                  ) : null}
                </td>
                <td className="num">{u.monthly_quota_usd != null ? formatCost(u.monthly_quota_usd) : <span className="muted">default</span>}</td>
                <td>
                  <div className="row">
                    {self && action.to === "suspended" ? null : (
                      <button type="button" className={action.to === "suspended" ? "secondary" : undefined} onClick={() => changeStatus(u)}>
                        {action.label} <span className="visually-hidden">{u.email}</span>
                      </button>
                    )}
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={managing === u.id}
                      aria-controls="manage-user"
                      onClick={() => setManaging((m) => (m === u.id ? null : u.id))}
                    >
                      Manage <span className="visually-hidden">{u.email}</span>
                    </button>
                  </div>
                </td>
              </tr>
            );
          }}
        />
      ) : null}
      {next ? (
        <button type="button" className="secondary" onClick={loadMore}>
          Show more accounts
        </button>
      ) : null}
      {selected ? (
        <ManageUser
          key={selected.id}
          user={selected}
          self={selected.id === me?.id}
          onChanged={replace}
          onDeleted={(message) => {
            setManaging(null);
            setNotice(message);
            void list.reload();
          }}
          onClose={() => setManaging(null)}
        />
      ) : null}
    </section>
  );
}

function ManageUser({
  user,
  self,
  onChanged,
  onDeleted,
  onClose,
}: {
  user: AdminUser;
  self: boolean;
  onChanged: (u: AdminUser) => void;
  onDeleted: (message: string) => void;
  onClose: () => void;
}) {
  const [role, setRole] = useState<Role>(user.role ?? "user");
  const [quota, setQuota] = useState(user.monthly_quota_usd != null ? String(user.monthly_quota_usd) : "");
  // null: every enabled model; a list: only those.
  const [allowed, setAllowed] = useState<string[] | null>(user.allowed_models ?? null);
  const models = useAsync(() => admin.models(), []);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [reset, setReset] = useState<ResetLink | null>(null);
  const panel = useRef<HTMLElement>(null);

  // Opened below a long list: bring it into view.
  useEffect(() => panel.current?.scrollIntoView?.({ block: "nearest" }), []);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(null);
    const amount = quota.trim() === "" ? null : Number(quota);
    if (amount !== null && (!Number.isFinite(amount) || amount < 0)) {
      setError(new Error("The quota is an amount in US dollars, 0 or more, or empty for the default."));
      return;
    }
    try {
      const change: UserChange = {};
      if (role !== (user.role ?? "user")) change.role = role;
      if (amount !== (user.monthly_quota_usd ?? null)) change.monthly_quota_usd = amount;
      if (!sameModels(allowed, user.allowed_models ?? null)) change.allowed_models = allowed;
      if (allowed !== null && allowed.length === 0) {
        setError(new Error("Choose at least one model, or allow every enabled model."));
        return;
      }
      if (Object.keys(change).length === 0) {
        setSaved("Nothing to change.");
        return;
      }
      onChanged(await admin.update(user.id, change));
      setSaved("Changes saved.");
    } catch (err) {
      setError(err);
    }
  }

  async function issueReset() {
    setError(null);
    try {
      setReset(await admin.resetLink(user.id));
    } catch (err) {
      setError(err);
    }
  }

  async function remove() {
    if (!window.confirm(`Delete ${user.email} and everything it owns (documents, conversations, usage, API keys)? This cannot be undone.`)) return;
    setError(null);
    try {
      const { removed } = await admin.remove(user.id);
      onDeleted(`${user.email} deleted: ${removed.documents} documents, ${removed.conversations} conversations, ${removed.files} files.`);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section ref={panel} className="card stack nested" id="manage-user" aria-labelledby="manage-title">
      <div className="row spread">
        <h3 id="manage-title">Manage {user.email}</h3>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="muted small">Joined {formatDate(user.created_at)}.</p>
      <form className="stack" onSubmit={save}>
        <div className="form-grid">
          <label>
            Role
            <select value={role} disabled={self} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="user">User</option>
              <option value="admin">Admin</option>
            </select>
          </label>
          <label>
            Monthly quota (USD)
            <input type="number" min={0} step="0.01" placeholder="operator default" value={quota} onChange={(e) => setQuota(e.target.value)} />
          </label>
        </div>
        <fieldset className="stack">
          <legend>Models this user may use</legend>
          <label className="inline">
            <input type="radio" name="model-scope" checked={allowed === null} onChange={() => setAllowed(null)} />
            Every enabled model
          </label>
          <label className="inline">
            <input
              type="radio"
              name="model-scope"
              checked={allowed !== null}
              onChange={() => setAllowed(allowed ?? (models.data?.items ?? []).filter((m) => m.enabled).map((m) => m.id))}
            />
            Only the models ticked below
          </label>
          {allowed !== null ? (
            <ul className="list-plain model-picks" aria-label="Allowed models">
              {(models.data?.items ?? []).map((m) => (
                <li key={m.id}>
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={allowed.includes(m.id)}
                      onChange={(e) => setAllowed(e.target.checked ? [...allowed, m.id] : allowed.filter((id) => id !== m.id))}
                    />
                    {m.display_name}
                    {m.enabled ? null : <span className="muted small"> (disabled for everyone)</span>}
                  </label>
                </li>
              ))}
              {/* A model the list no longer has (removed since) stays visible so it can be unticked. */}
              {allowed
                .filter((id) => !(models.data?.items ?? []).some((m) => m.id === id))
                .map((id) => (
                  <li key={id}>
                    <label className="inline">
                      <input type="checkbox" checked onChange={() => setAllowed(allowed.filter((x) => x !== id))} />
                      {id} <span className="muted small">(no longer offered)</span>
                    </label>
                  </li>
                ))}
            </ul>
          ) : null}
          <ErrorAlert error={models.error} onRetry={models.reload} context="Models" />
        </fieldset>
        <p className="muted small">
          Empty: the default quota of the sign-up and limits settings. The user's own budgets can only be lower.
          {self ? " You cannot demote yourself; ask another admin." : ""}
        </p>
        <div>
          <button type="submit">Save changes</button>
        </div>
      </form>
      <Notice>{saved}</Notice>
      <div className="stack">
        <h4>Password reset</h4>
        <p className="muted small">A link that sets a new password once, within 30 minutes, and signs the account out everywhere. Send it to the user yourself: nothing is mailed.</p>
        <div>
          <button type="button" className="secondary" onClick={issueReset}>
            Create a reset link
          </button>
        </div>
        {reset ? (
          <>
            <CopyField label="Reset link" value={reset.link} />
            <span className="muted small">Works once, until {new Date(reset.expires_at * 1000).toLocaleTimeString(undefined, { timeStyle: "short" })}.</span>
          </>
        ) : null}
      </div>
      {self ? null : (
        <div className="stack">
          <h4>Delete the account</h4>
          <p className="muted small">Removes the account and everything it owns. It cannot be undone.</p>
          <div>
            <button type="button" className="danger" onClick={remove}>
              Delete {user.email}
            </button>
          </div>
        </div>
      )}
      <ErrorAlert error={error} />
    </section>
  );
}

function sameModels(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}
