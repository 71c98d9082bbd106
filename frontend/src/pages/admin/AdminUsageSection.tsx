// The deployment's usage across users: totals, then by model and by day and model. Answers of
// models without a known price are counted apart, never as $0. Embedding models' rows count
// calls (documents indexed, questions searched); their cost is in the total.

import { useState } from "react";
import { admin } from "../../api/endpoints";
import type { OperatorUsageRow } from "../../api/models";
import { ErrorAlert } from "../../components/ErrorAlert";
import { DataTable } from "../../components/DataTable";
import { DateRange } from "../../components/DateRange";
import { Loading } from "../../components/Notice";
import { formatCost, formatTokens, isoDay } from "../../lib/format";
import { useAsync } from "../../lib/useAsync";
import { KindBadge, countLabel } from "../usageKind";

/** Rows of the same model summed over the days. */
export function byModel(rows: OperatorUsageRow[]): OperatorUsageRow[] {
  const models = new Map<string, OperatorUsageRow>();
  for (const r of rows) {
    const seen = models.get(r.model);
    models.set(
      r.model,
      seen
        ? {
            ...seen,
            answers: seen.answers + r.answers,
            unpriced_answers: seen.unpriced_answers + r.unpriced_answers,
            input_tokens: seen.input_tokens + r.input_tokens,
            output_tokens: seen.output_tokens + r.output_tokens,
            cost_usd: seen.cost_usd + r.cost_usd,
          }
        : { ...r, day: "" },
    );
  }
  return [...models.values()].sort((a, b) => b.cost_usd - a.cost_usd || a.model.localeCompare(b.model));
}

function cost(r: OperatorUsageRow) {
  return (
    <>
      {formatCost(r.cost_usd)}
      {r.unpriced_answers > 0 ? <span className="muted small"> + {r.unpriced_answers} unpriced</span> : null}
    </>
  );
}

function UsageTable({ rows, withDay }: { rows: OperatorUsageRow[]; withDay: boolean }) {
  return (
    <DataTable
      columns={[
        withDay && "Day",
        "Model",
        { label: "Answers / calls", num: true },
        { label: "Input tokens", num: true },
        { label: "Output tokens", num: true },
        { label: "Cost", num: true },
      ]}
      rows={rows}
      row={(r) => (
        <tr key={`${r.day}|${r.model}`}>
          {withDay ? <td>{r.day}</td> : null}
          <td>
            {r.model}
            <KindBadge kind={r.kind} />
          </td>
          <td className="num">{countLabel(r.answers, r.kind)}</td>
          <td className="num">{formatTokens(r.input_tokens)}</td>
          <td className="num">{formatTokens(r.output_tokens)}</td>
          <td className="num">{cost(r)}</td>
        </tr>
      )}
    />
  );
}

export function AdminUsageSection() {
  const today = new Date();
  const [from, setFrom] = useState(`${isoDay(today).slice(0, 7)}-01`);
  const [to, setTo] = useState(isoDay(today));
  const usage = useAsync(() => admin.usage(from, to), [from, to]);
  const rows = usage.data?.days ?? [];
  const unpriced = rows.reduce((n, r) => n + r.unpriced_answers, 0);

  return (
    <section className="card stack" aria-labelledby="admin-usage-title">
      <h2 id="admin-usage-title">Usage across users</h2>
      <div className="row">
        <DateRange from={from} to={to} onFrom={setFrom} onTo={setTo} />
      </div>
      <ErrorAlert error={usage.error} onRetry={usage.reload} context="Usage" />
      {usage.data ? (
        <>
          <p data-testid="admin-usage-total">
            <strong>{usage.data.total_answers}</strong> answers, <strong>{formatCost(usage.data.total_cost_usd)}</strong>
            {unpriced > 0 ? <span className="muted"> (and {unpriced} answers of models without a known price, not counted)</span> : null}
          </p>
          {rows.length === 0 ? (
            <p className="muted">No answers in this period.</p>
          ) : (
            <>
              <h3>By model</h3>
              <UsageTable rows={byModel(rows)} withDay={false} />
              <h3>By day and model</h3>
              <UsageTable rows={rows} withDay />
            </>
          )}
        </>
      ) : usage.loading ? (
        <Loading />
      ) : null}
    </section>
  );
}
