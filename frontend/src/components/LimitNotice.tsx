// A quota or rate limit, said plainly: what the limit is and when sending works again (a
// countdown for a rate limit, the renewal day for a monthly limit).

import { useEffect, useState } from "react";
import { formatWait, type Limit } from "../lib/limits";

function sentence(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1).replace(/\.?$/, ".") : s;
}

export function LimitNotice({ limit, context }: { limit: Limit; context?: string }) {
  const [now, setNow] = useState(() => Date.now());
  const until = limit.retryAt?.getTime();
  const counting = limit.kind === "rate" && until !== undefined && until > now;

  useEffect(() => {
    if (!counting) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [counting]);

  let when = null;
  if (limit.kind === "quota" && limit.retryAt) {
    const day = limit.retryAt.toLocaleDateString(undefined, { dateStyle: "long", timeZone: "UTC" });
    when = <span>It renews on {day}; an administrator can raise it sooner.</span>;
  } else if (until !== undefined) {
    const at = new Date(until).toLocaleTimeString(undefined, { timeStyle: "medium" });
    when = counting ? (
      <span>
        {/* The ticking number is for the eye; screen readers get the time once. */}
        Try again in <strong aria-hidden="true" data-testid="retry-countdown">{formatWait((until - now) / 1000)}</strong>
        <span className="visually-hidden"> at {at}</span> <span aria-hidden="true">(at {at})</span>.
      </span>
    ) : (
      <span>You can try again now.</span>
    );
  }
  return (
    <div role="alert" className="alert warn limit" data-testid="limit-notice">
      <strong>
        {context ? `${context}: ` : ""}
        {limit.title}.
      </strong>
      {limit.detail ? <span>{sentence(limit.detail)}</span> : null}
      {when}
    </div>
  );
}
