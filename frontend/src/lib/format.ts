// Number, money, size and date formatting shared by the screens.

const intFormat = new Intl.NumberFormat("en-US");

export function formatTokens(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (Math.abs(n) >= 1_000_000) return `${(n / 1_000_000).toFixed(n % 1_000_000 === 0 ? 0 : 1)}M`;
  if (Math.abs(n) >= 10_000) return `${Math.round(n / 1000)}k`;
  return intFormat.format(n);
}

/** US dollars; small amounts keep enough digits to be non-zero. */
export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || Number.isNaN(usd)) return "–";
  if (usd === 0) return "$0";
  const abs = Math.abs(usd);
  if (abs < 0.0001) return `<$0.0001`;
  if (abs < 0.01) return `$${usd.toFixed(4)}`;
  if (abs < 1) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

/** A price per million tokens, e.g. "$2.50/M". */
export function formatPrice(perMillion: number | null | undefined): string {
  if (perMillion === null || perMillion === undefined) return "?";
  if (perMillion === 0) return "free";
  return `$${perMillion < 1 ? perMillion.toFixed(3).replace(/0+$/, "") : perMillion.toFixed(2)}/M`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A date's UTC day, as a date field and the API take it (`2026-12-03`). */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
