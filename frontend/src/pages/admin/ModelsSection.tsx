// Models: every chat model of the deployment (catalog and added) with its provider, limits and
// prices; enable or disable one, add a model of a configured provider (e.g. on Ollama or vLLM),
// remove an added one or return a catalog one to its defaults.

import { useState, type FormEvent } from "react";
import { admin } from "../../api/endpoints";
import type { AdminModel } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ACTIONS_COLUMN, DataTable } from "../../components/DataTable";
import { Loading, Notice } from "../../components/Notice";
import { formatPrice, formatTokens } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";

const PROVIDERS = [
  { value: "openai_compatible", label: "OpenAI-compatible server (Ollama, vLLM…)" },
  { value: "openai", label: "OpenAI" },
  { value: "anthropic", label: "Anthropic" },
  { value: "gemini", label: "Google Gemini" },
];

function prices(m: AdminModel): string {
  if (m.input_price == null || m.output_price == null) return "unknown";
  return `${formatPrice(m.input_price)} in · ${formatPrice(m.output_price)} out`;
}

/** A number field's value, or undefined when left empty. */
function optionalNumber(text: string): number | undefined {
  return text.trim() === "" ? undefined : Number(text);
}

export function ModelsSection() {
  const models = useAsync(() => admin.models(), []);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [form, setForm] = useState({ id: "", provider: "openai_compatible", context: "", input: "", output: "" });
  // The model whose prices are being edited, with the fields as typed.
  const [pricing, setPricing] = useState<{ id: string; input: string; output: string } | null>(null);

  async function act(work: () => Promise<string>) {
    setError(null);
    setNotice(null);
    try {
      setNotice(await work());
      await models.reload();
    } catch (e) {
      setError(e);
    }
  }

  const toggle = (m: AdminModel) =>
    act(async () => {
      await admin.updateModel(m.id, { enabled: !m.enabled });
      return `${m.display_name}: ${m.enabled ? "disabled" : "enabled"}.`;
    });

  const remove = (m: AdminModel) => {
    const added = m.source === "added";
    const question = added ? `Remove ${m.display_name}? Users can no longer pick it.` : `Return ${m.display_name} to the catalog's settings?`;
    if (!window.confirm(question)) return;
    void act(async () => {
      await admin.removeModel(m.id);
      return `${m.display_name}: ${added ? "removed" : "back to the catalog's settings"}.`;
    });
  };

  function savePrices(e: FormEvent, m: AdminModel) {
    e.preventDefault();
    if (!pricing) return;
    const input = optionalNumber(pricing.input);
    const output = optionalNumber(pricing.output);
    if ((input === undefined) !== (output === undefined)) {
      setError(new Error("Set both prices, or clear both to make the price unknown."));
      return;
    }
    void act(async () => {
      await admin.updateModel(m.id, { input_price: input ?? null, output_price: output ?? null });
      setPricing(null);
      return input === undefined ? `${m.display_name}: price cleared.` : `${m.display_name}: prices saved.`;
    });
  }

  function add(e: FormEvent) {
    e.preventDefault();
    const input = optionalNumber(form.input);
    const output = optionalNumber(form.output);
    void act(async () => {
      const created = await admin.addModel({
        id: form.id.trim(),
        provider: form.provider,
        context_window: optionalNumber(form.context),
        input_price: input,
        output_price: output,
      });
      setForm({ ...form, id: "", input: "", output: "" });
      return `${created.display_name} added.`;
    });
  }

  const items = models.data?.items ?? [];
  return (
    <section className="card stack" aria-labelledby="models-title">
      <h2 id="models-title">Models</h2>
      <p className="muted small">
        Users pick among the enabled models whose provider is configured. A model without a known price answers, but is
        refused while a monthly quota applies, until it has prices.
      </p>
      <ErrorAlert error={models.error} onRetry={models.reload} context="Models" />
      <ErrorAlert error={error} />
      <Notice>{notice}</Notice>
      {items.length > 0 ? (
        <DataTable
          columns={["Model", "Provider", { label: "Context", num: true }, "Price per million tokens", "State", ACTIONS_COLUMN]}
          rows={items}
          row={(m) => (
            <tr key={m.id}>
              <td>
                <span>
                  {m.display_name}
                  {m.display_name !== m.id ? <span className="muted small"> {m.id}</span> : null}
                </span>
              </td>
              <td>
                <span>
                  {m.provider}
                  {m.available ? null : <span className="muted small"> (not configured)</span>}
                </span>
              </td>
              <td className="num">{formatTokens(m.context_window)}</td>
              <td>
                {pricing?.id === m.id ? (
                  <form className="row price-form" onSubmit={(e) => savePrices(e, m)} aria-label={`Prices of ${m.id}`}>
                    <label className="inline">
                      In
                      <input type="number" min={0} step="0.001" placeholder="unknown" value={pricing.input} onChange={(e) => setPricing({ ...pricing, input: e.target.value })} />
                    </label>
                    <label className="inline">
                      Out
                      <input type="number" min={0} step="0.001" placeholder="unknown" value={pricing.output} onChange={(e) => setPricing({ ...pricing, output: e.target.value })} />
                    </label>
                    <button type="submit">Save</button>
                    <button type="button" className="secondary" onClick={() => setPricing(null)}>
                      Cancel
                    </button>
                  </form>
                ) : (
                  prices(m)
                )}
              </td>
              <td>
                <span className={`badge ${m.enabled ? "ready" : "failed"}`}>{m.enabled ? "enabled" : "disabled"}</span>
              </td>
              <td>
                <div className="row">
                  <button type="button" className="secondary" onClick={() => toggle(m)}>
                    {m.enabled ? "Disable" : "Enable"} <span className="visually-hidden">{m.id}</span>
                  </button>
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => setPricing({ id: m.id, input: m.input_price != null ? String(m.input_price) : "", output: m.output_price != null ? String(m.output_price) : "" })}
                  >
                    Prices <span className="visually-hidden">{m.id}</span>
                  </button>
                  {m.source === "added" || m.price_set_by_admin ? (
                    <button type="button" className="secondary" onClick={() => remove(m)}>
                      {m.source === "added" ? "Remove" : "Reset"} <span className="visually-hidden">{m.id}</span>
                    </button>
                  ) : null}
                </div>
              </td>
            </tr>
          )}
        />
      ) : models.loading ? (
        <Loading />
      ) : null}
      <form className="stack" onSubmit={add} aria-labelledby="add-model-title">
        <h3 id="add-model-title">Add a model</h3>
        <div className="form-grid">
          <label>
            Model id
            <input required maxLength={200} placeholder="e.g. llama3.1:8b" value={form.id} onChange={(e) => setForm({ ...form, id: e.target.value })} />
          </label>
          <label>
            Provider
            <select value={form.provider} onChange={(e) => setForm({ ...form, provider: e.target.value })}>
              {PROVIDERS.map((p) => (
                <option key={p.value} value={p.value}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Context window (tokens)
            <input type="number" min={1} placeholder="128000" value={form.context} onChange={(e) => setForm({ ...form, context: e.target.value })} />
          </label>
          <label>
            Input price (USD per million)
            <input type="number" min={0} step="0.001" placeholder="unknown" value={form.input} onChange={(e) => setForm({ ...form, input: e.target.value })} />
          </label>
          <label>
            Output price (USD per million)
            <input type="number" min={0} step="0.001" placeholder="unknown" value={form.output} onChange={(e) => setForm({ ...form, output: e.target.value })} />
          </label>
        </div>
        <div>
          <button type="submit" disabled={!form.id.trim()}>
            Add model
          </button>
        </div>
      </form>
    </section>
  );
}
