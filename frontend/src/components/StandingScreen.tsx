// What an account that may not act sees: it waits for an administrator's approval (checked
// again every few seconds and on demand), or it is suspended.

import { useState } from "react";
import type { Standing } from "../api/client";

export function StandingScreen({ standing, onCheck, onSignOut }: { standing: Standing; onCheck: () => Promise<void>; onSignOut: () => void }) {
  const [checking, setChecking] = useState(false);
  const pending = standing === "pending";
  return (
    <main className="auth-page" id="main">
      <section className="card auth-card" aria-labelledby="standing-title" data-testid={`account-${standing}`}>
        <h1 id="standing-title">{pending ? "Your account is waiting for approval" : "Your account is suspended"}</h1>
        {pending ? (
          <>
            <p>
              Thank you for signing up. An administrator of this RaGenie must approve new accounts before they can be
              used. You do not need to do anything: this page opens the app as soon as your account is approved.
            </p>
            <p className="muted small" role="status">
              {checking ? "Checking…" : "Checked a moment ago: still waiting."}
            </p>
          </>
        ) : (
          <p>
            An administrator suspended this account, so it cannot be used for now: its sessions and API keys are refused.
            Ask your administrator to reactivate it.
          </p>
        )}
        <div className="row">
          {pending ? (
            <button
              type="button"
              disabled={checking}
              onClick={async () => {
                setChecking(true);
                try {
                  await onCheck();
                } finally {
                  setChecking(false);
                }
              }}
            >
              Check again
            </button>
          ) : null}
          <button type="button" className="secondary" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </section>
    </main>
  );
}
