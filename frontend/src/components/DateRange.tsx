// The From and To date fields of a usage report: neither can pass the other, and clearing a field
// keeps the last day chosen (a report always has a range).

export function DateRange({ from, to, onFrom, onTo }: { from: string; to: string; onFrom: (day: string) => void; onTo: (day: string) => void }) {
  return (
    <>
      <label className="inline">
        From
        <input type="date" value={from} max={to} onChange={(e) => e.target.value && onFrom(e.target.value)} />
      </label>
      <label className="inline">
        To
        <input type="date" value={to} min={from} onChange={(e) => e.target.value && onTo(e.target.value)} />
      </label>
    </>
  );
}
