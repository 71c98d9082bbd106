// Profiles: name and description, ordered instructions and datasets picked from the user's
// documents, parent profiles, and defaults (model, temperature, output length).

import { useEffect, useRef, useState, type FormEvent } from "react";
import { NavLink, useNavigate, useParams } from "react-router";
import { chat, documents, modelItems, preferences, profiles, type ProfileInput } from "../api/endpoints";
import type { DocumentMeta, Profile, TemperaturePreset } from "../api/models";
import { ErrorAlert } from "../components/ErrorAlert";
import { Notice } from "../components/Notice";
import { ModelOptions } from "../components/Options";
import { useAsync } from "../lib/useAsync";
import { usePaged } from "../lib/usePaged";

const EMPTY: ProfileInput = {
  name: "",
  description: "",
  instruction_ids: [],
  dataset_ids: [],
  folders: [],
  parent_ids: [],
  default_model: null,
  temperature_preset: "balanced",
  temperature: null,
  max_output_tokens: null,
};

export default function ProfilesPage() {
  const { profileId } = useParams();
  const navigate = useNavigate();
  const list = useAsync(() => profiles.list(), []);
  // The picker pages through every document ("Load more"), not only the first page.
  const docs = usePaged((cursor) => documents.list({ cursor }), []);
  const folderTree = useAsync(() => documents.folders().catch(() => null), []);
  const models = useAsync(() => chat.models(), []);
  const prefs = useAsync(() => preferences.get(), []);
  const creating = profileId === "new" || !profileId;
  const current = list.data?.items?.find((p) => p.id === profileId);

  const [form, setForm] = useState<ProfileInput>(EMPTY);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The profile just created: its "created" message survives the move to its own page. */
  const justCreated = useRef<string | null>(null);

  // Another profile: clear the messages (except the "created" one that led here).
  useEffect(() => {
    setError(null);
    if (justCreated.current === null || justCreated.current !== profileId) setSaved(null);
    justCreated.current = null;
  }, [profileId]);

  // The form shows the stored profile, again after each save.
  useEffect(() => {
    if (creating) setForm(EMPTY);
    else if (current) setForm({ ...EMPTY, ...stripIds(current) });
  }, [creating, current]);

  const allDocs = docs.data?.items ?? [];
  const instructionDocs = allDocs.filter((d) => d.kind === "instructions");
  const datasetDocs = allDocs.filter((d) => d.kind === "dataset");
  const otherProfiles = (list.data?.items ?? []).filter((p) => p.id !== profileId);
  const set = <K extends keyof ProfileInput>(k: K, v: ProfileInput[K]) => setForm((f) => ({ ...f, [k]: v }));

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    const body: Partial<ProfileInput> = {
      ...form,
      name: form.name.trim(),
      description: form.description?.trim() ?? "",
    };
    // The temperature is the preset's unless the preset is custom; the API refuses it otherwise.
    if (form.temperature_preset !== "custom") delete body.temperature;
    try {
      if (creating) {
        const created = await profiles.create(body);
        justCreated.current = created.id;
        setSaved(`Profile “${created.name}” created.`);
        await list.reload();
        navigate(`/app/profiles/${created.id}`, { replace: true });
      } else if (profileId) {
        await profiles.update(profileId, body);
        await list.reload();
        setSaved("Saved.");
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!profileId || !current || !window.confirm(`Delete the profile “${current.name}”? Its documents stay.`)) return;
    try {
      await profiles.remove(profileId);
      await list.reload();
      navigate("/app/profiles");
    } catch (err) {
      setError(err);
    }
  }

  async function makeDefault() {
    if (!profileId) return;
    try {
      await preferences.put({
        default_profile: profileId,
        default_model: prefs.data?.default_model ?? null,
        theme: prefs.data?.theme ?? "system",
      });
      await prefs.reload();
      setSaved("This is now your default profile.");
    } catch (err) {
      setError(err);
    }
  }

  function move(index: number, delta: number) {
    const ids = [...form.instruction_ids];
    const j = index + delta;
    if (j < 0 || j >= ids.length) return;
    [ids[index], ids[j]] = [ids[j], ids[index]];
    set("instruction_ids", ids);
  }

  const docName = (id: string) => allDocs.find((d) => d.id === id)?.name ?? id;

  return (
    <div className="page">
      <h1>Profiles</h1>
      <ErrorAlert error={list.error} onRetry={list.reload} context="Profiles" />
      <div className="two-col">
        <nav aria-label="Profiles" className="card">
          <ul className="list-plain">
            <li>
              <NavLink to="/app/profiles/new" className={({ isActive }) => (isActive || !profileId ? "active" : undefined)}>
                + New profile
              </NavLink>
            </li>
            {(list.data?.items ?? []).map((p) => (
              <li key={p.id}>
                <NavLink to={`/app/profiles/${p.id}`} className={({ isActive }) => (isActive ? "active" : undefined)}>
                  {p.name}
                  {prefs.data?.default_profile === p.id ? <span className="badge">default</span> : null}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <form className="card" onSubmit={save} aria-labelledby="profile-title" style={{ display: "flex", flexDirection: "column", gap: "0.9rem" }}>
          <h2 id="profile-title">{creating ? "New profile" : `Edit “${current?.name ?? ""}”`}</h2>
          {!creating && !current && list.data ? <p className="alert error">This profile does not exist.</p> : null}
          <div className="form-grid">
            <label>
              Name
              <input required maxLength={200} value={form.name} onChange={(e) => set("name", e.target.value)} />
            </label>
            <label>
              Description
              <input maxLength={2000} value={form.description ?? ""} onChange={(e) => set("description", e.target.value)} />
            </label>
          </div>

          <fieldset>
            <legend>Instructions (always included, in this order)</legend>
            <ErrorAlert error={docs.error} onRetry={docs.reload} context="Documents" />
            <ol className="ordered">
              {form.instruction_ids.map((id, i) => (
                <li key={id}>
                  <span>{docName(id)}</span>
                  <span className="spacer" />
                  <button type="button" className="icon" aria-label={`Move ${docName(id)} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                    ↑
                  </button>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Move ${docName(id)} down`}
                    disabled={i === form.instruction_ids.length - 1}
                    onClick={() => move(i, 1)}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Remove ${docName(id)}`}
                    onClick={() => set("instruction_ids", form.instruction_ids.filter((x) => x !== id))}
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ol>
            <label className="inline">
              Add instructions
              <select
                value=""
                onChange={(e) => e.target.value && set("instruction_ids", [...form.instruction_ids, e.target.value])}
              >
                <option value="">{instructionDocs.length ? "— choose a document —" : "No instruction documents yet"}</option>
                {instructionDocs
                  .filter((d) => !form.instruction_ids.includes(d.id))
                  .map((d) => (
                    <option key={d.id} value={d.id}>
                      {d.name}
                    </option>
                  ))}
              </select>
            </label>
          </fieldset>

          <fieldset>
            <legend>Datasets (knowledge to search)</legend>
            {datasetDocs.length === 0 ? <p className="muted small">No dataset documents yet. Upload some on the Documents page.</p> : null}
            <DocChecklist docs={datasetDocs} selected={form.dataset_ids} onChange={(ids) => set("dataset_ids", ids)} />
            {docs.hasMore ? (
              <button type="button" className="secondary" onClick={() => void docs.loadMore()} disabled={docs.loadingMore}>
                {docs.loadingMore ? "Loading…" : "Load more documents"}
              </button>
            ) : null}
          </fieldset>

          <fieldset>
            <legend>Folders (every dataset in them and below, files added later included)</legend>
            {(folderTree.data?.items ?? []).filter((f) => f.path).length === 0 && !(form.folders ?? []).length ? (
              <p className="muted small">No folders yet. Upload a folder on the Documents page.</p>
            ) : null}
            {[...new Set([...(folderTree.data?.items ?? []).map((f) => f.path).filter(Boolean), ...(form.folders ?? [])])].map((path) => {
              const count = folderTree.data?.items.find((f) => f.path === path)?.total;
              const chosen = (form.folders ?? []).includes(path);
              return (
                <label key={path} className="inline">
                  <input
                    type="checkbox"
                    checked={chosen}
                    onChange={(e) =>
                      set("folders", e.target.checked ? [...(form.folders ?? []), path] : (form.folders ?? []).filter((x) => x !== path))
                    }
                  />
                  <span className="doc-folder">{path}</span>
                  {count !== undefined ? <span className="badge">{count}</span> : null}
                </label>
              );
            })}
          </fieldset>

          <fieldset>
            <legend>Inherits from</legend>
            {otherProfiles.length === 0 ? <p className="muted small">No other profiles.</p> : null}
            {otherProfiles.map((p) => (
              <label key={p.id} className="inline">
                <input
                  type="checkbox"
                  checked={form.parent_ids.includes(p.id)}
                  onChange={(e) =>
                    set("parent_ids", e.target.checked ? [...form.parent_ids, p.id] : form.parent_ids.filter((x) => x !== p.id))
                  }
                />
                {p.name}
              </label>
            ))}
          </fieldset>

          <fieldset>
            <legend>Defaults</legend>
            <div className="form-grid">
              <label>
                Default model
                <select value={form.default_model ?? ""} onChange={(e) => set("default_model", e.target.value || null)}>
                  <option value="">Your default</option>
                  <ModelOptions models={modelItems(models.data)} />
                </select>
              </label>
              <label>
                Temperature
                <select
                  value={form.temperature_preset ?? "balanced"}
                  onChange={(e) => set("temperature_preset", e.target.value as TemperaturePreset)}
                >
                  <option value="precise">Precise</option>
                  <option value="balanced">Balanced</option>
                  <option value="creative">Creative</option>
                  <option value="custom">Custom</option>
                </select>
              </label>
              {form.temperature_preset === "custom" ? (
                <label>
                  Custom temperature
                  <input
                    type="number"
                    min={0}
                    max={2}
                    step={0.05}
                    value={form.temperature ?? ""}
                    onChange={(e) => set("temperature", e.target.value === "" ? null : Number(e.target.value))}
                  />
                </label>
              ) : null}
              <label>
                Max output tokens
                <input
                  type="number"
                  min={1}
                  step={1}
                  placeholder="model default"
                  value={form.max_output_tokens ?? ""}
                  onChange={(e) => set("max_output_tokens", e.target.value === "" ? null : Number(e.target.value))}
                />
              </label>
            </div>
          </fieldset>

          <ErrorAlert error={error} />
          <Notice>{saved}</Notice>
          <div className="row">
            <button type="submit" disabled={busy || !form.name.trim()}>
              {creating ? "Create profile" : "Save"}
            </button>
            {!creating && current ? (
              <>
                <button type="button" className="secondary" onClick={makeDefault} disabled={prefs.data?.default_profile === profileId}>
                  Make default
                </button>
                <button type="button" className="danger" onClick={remove}>
                  Delete
                </button>
              </>
            ) : null}
          </div>
        </form>
      </div>
    </div>
  );
}

function stripIds(p: Profile): ProfileInput {
  const { id: _id, created_at: _c, updated_at: _u, ...rest } = p;
  return {
    ...rest,
    instruction_ids: rest.instruction_ids ?? [],
    dataset_ids: rest.dataset_ids ?? [],
    folders: rest.folders ?? [],
    parent_ids: rest.parent_ids ?? [],
  };
}

function DocChecklist({ docs, selected, onChange }: { docs: DocumentMeta[]; selected: string[]; onChange: (ids: string[]) => void }) {
  return (
    <div>
      {docs.map((d) => (
        <label key={d.id} className="inline">
          <input
            type="checkbox"
            checked={selected.includes(d.id)}
            onChange={(e) => onChange(e.target.checked ? [...selected, d.id] : selected.filter((x) => x !== d.id))}
          />
          {/* Same-named files of different folders must be told apart. */}
          <span className="doc-folder">
            {d.folder ? <span className="muted">{d.folder}/</span> : null}
            {d.name}
          </span>
          {d.status !== "ready" ? <span className={`badge ${d.status}`}>{d.status}</span> : null}
        </label>
      ))}
    </div>
  );
}
