// An error from the API or the network, as a readable message.

import { ApiError, errorMessage } from "../api/problem";
import { limitOf } from "../lib/limits";
import { LimitNotice } from "./LimitNotice";

export function ErrorAlert({ error, onRetry, context }: { error: unknown; onRetry?: () => void; context?: string }) {
  if (!error) return null;
  // A quota or rate limit is not a failure: say which, and when to try again.
  const limit = limitOf(error);
  if (limit) return <LimitNotice limit={limit} context={context} />;
  const status = error instanceof ApiError ? error.status : undefined;
  // Quoted in a report, the request id finds the request's log lines.
  const requestId = error instanceof ApiError && error.status >= 500 ? error.requestId : undefined;
  return (
    <div role="alert" className="alert error">
      <span>
        {context ? <strong>{context}: </strong> : null}
        {errorMessage(error)}
        {status ? <span className="muted"> (HTTP {status})</span> : null}
        {requestId ? (
          <span className="muted small">
            {" "}
            Reference: <code>{requestId}</code>
          </span>
        ) : null}
      </span>
      {onRetry ? (
        <button type="button" className="link" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}
