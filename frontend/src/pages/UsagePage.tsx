// Usage: tokens and cost per day and per model over a date range, with a chart.

import { useEffect, useState, type FormEvent } from "react";
import { usage } from "../api/endpoints";
import type { UsageRow } from "../api/models";
import { ErrorAlert } from "../components/ErrorAlert";
import { DataTable } from "../components/DataTable";
import { DateRange } from "../components/DateRange";
import { Loading, Notice } from "../components/Notice";
import { formatCost, formatTokens, isoDay } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { BarChart } from "./BarChart";
import { KindBadge, countLabel } from "./usageKind";

const tokensOf = (r: Pick<UsageRow, "input_tokens" | "output_tokens">) => r.input_tokens + r.output_tokens;

export default function UsagePage() {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [metric, setMetric] = useState<"cost" | "tokens">("cost");
  const report = useAsync(() => usage.get(from, to), [from, to]);
  const days = report.data?.days ?? [];
  const models = report.data?.models ?? [];
  const total = report.data;

  const bars = fillDays(from, to, days).map(([day, row]) => ({
    label: day.slice(5),
    value: row ? (metric === "cost" ? row.cost_usd : tokensOf(row)) : 0,
  }));

  return (
    <div className="page">
      <h1>Usage</h1>
      <div className="row">
        <DateRange from={from} to={to} onFrom={setFrom} onTo={setTo} />
        <label className="inline">
          Show
          <select value={metric} onChange={(e) => setMetric(e.target.value as "cost" | "tokens")}>
            <option value="cost">Cost</option>
            <option value="tokens">Tokens</option>
          </select>
        </label>
      </div>
      <ErrorAlert error={report.error} onRetry={report.reload} context="Usage" />
      {report.loading && !report.data ? <Loading /> : null}
      {report.data ? (
        <>
          <section className="card">
            <h2>Per day</h2>
            {total ? (
              <p>
                Total: <strong>{formatTokens(total.total_input_tokens + total.total_output_tokens)}</strong> tokens (
                {formatTokens(total.total_input_tokens)} in, {formatTokens(total.total_output_tokens)} out),{" "}
                <strong>{formatCost(total.total_cost_usd)}</strong>
                {total.month_cost_usd !== undefined ? (
                  <span className="muted">
                    {" "}
                    · this month {formatCost(total.month_cost_usd)}
                    {total.budgets?.monthly_usd ? ` of a ${formatCost(total.budgets.monthly_usd)} budget` : ""}
                  </span>
                ) : null}
              </p>
            ) : null}
            <BarChart
              title={`${metric === "cost" ? "Cost" : "Tokens"} per day, ${from} to ${to}`}
              bars={bars}
              format={metric === "cost" ? formatCost : formatTokens}
            />
          </section>
          <section className="card">
            <h2>Per model</h2>
            <DataTable
              columns={["Model", { label: "Input tokens", num: true }, { label: "Output tokens", num: true }, { label: "Messages / calls", num: true }, { label: "Cost", num: true }]}
              rows={models}
              empty="No usage in this period."
              row={(m) => (
                <tr key={m.model}>
                  <td>
                    {m.model}
                    <KindBadge kind={m.kind} />
                  </td>
                  <td className="num">{formatTokens(m.input_tokens)}</td>
                  <td className="num">{formatTokens(m.output_tokens)}</td>
                  <td className="num">{countLabel(m.messages, m.kind)}</td>
                  <td className="num">{formatCost(m.cost_usd)}</td>
                </tr>
              )}
            />
            {models.some((m) => m.kind === "embedding") ? (
              <p className="muted small">
                Embeddings: your documents' passages are embedded when they are indexed, and your questions when
                they are searched. They count toward your monthly budget and your administrator's quota.
              </p>
            ) : null}
          </section>
        </>
      ) : null}
      <BudgetForm onSaved={report.reload} />
    </div>
  );
}

/** The monthly budget: new messages are refused once it is spent. */
function BudgetForm({ onSaved }: { onSaved: () => void }) {
  const budget = useAsync(() => usage.budget(), []);
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (budget.data) setValue(budget.data.monthly_usd ? String(budget.data.monthly_usd) : "");
  }, [budget.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    const monthly = value.trim() === "" ? null : Number(value);
    if (monthly !== null && (!Number.isFinite(monthly) || monthly <= 0)) {
      setError(new Error("The budget is an amount in US dollars above zero, or empty for none."));
      return;
    }
    try {
      const next = await usage.setBudget({ profiles: budget.data?.profiles ?? {}, monthly_usd: monthly });
      budget.setData(next);
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="card" onSubmit={save} aria-labelledby="budget-title" style={{ display: "flex", flexDirection: "column", gap: "0.6rem" }}>
      <h2 id="budget-title">Monthly budget</h2>
      <p className="muted small">Once this month's spending reaches it, new messages are refused until next month.</p>
      <ErrorAlert error={budget.error} onRetry={budget.reload} context="Budget" />
      <div className="row">
        <label className="inline">
          Monthly budget (USD)
          <input type="number" min={0} step="0.01" placeholder="no limit" value={value} onChange={(e) => setValue(e.target.value)} />
        </label>
        <button type="submit">Save budget</button>
      </div>
      <ErrorAlert error={error} />
      <Notice>{saved && "Budget saved."}</Notice>
    </form>
  );
}

/** Every day of the range with its total (rows per day and model summed), so quiet days show as zero. */
export function fillDays(from: string, to: string, rows: UsageRow[]): [string, UsageRow | undefined][] {
  const byDay = new Map<string, UsageRow>();
  for (const r of rows) {
    const key = r.day.slice(0, 10);
    const seen = byDay.get(key);
    byDay.set(
      key,
      seen
        ? {
            ...seen,
            model: "",
            messages: (seen.messages ?? 0) + (r.messages ?? 0),
            input_tokens: seen.input_tokens + r.input_tokens,
            output_tokens: seen.output_tokens + r.output_tokens,
            cost_usd: seen.cost_usd + r.cost_usd,
          }
        : r,
    );
  }
  const out: [string, UsageRow | undefined][] = [];
  const start = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  for (let d = start; d <= end && out.length < 400; d = new Date(d.getTime() + 86_400_000)) {
    const key = d.toISOString().slice(0, 10);
    out.push([key, byDay.get(key)]);
  }
  return out;
}
