// The app shell: navigation, sign-out, and the screen inside an error boundary.

import { Suspense, useEffect } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { preferences } from "../api/endpoints";
import { useAuth } from "../auth";
import { applyTheme } from "../lib/theme";
import { ErrorBoundary } from "./ErrorBoundary";

const LINKS = [
  { to: "/app/chat", label: "Chat" },
  { to: "/app/documents", label: "Documents" },
  { to: "/app/profiles", label: "Profiles" },
  { to: "/app/usage", label: "Usage" },
  { to: "/app/settings", label: "Settings" },
];

export function Layout() {
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();

  // The theme follows the account across devices: apply the saved preference once signed in.
  useEffect(() => {
    preferences
      .get()
      .then((p) => p?.theme && applyTheme(p.theme))
      .catch(() => undefined); // the local choice stays; Settings shows the error
  }, []);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand" aria-label="RaGenie">
          RaGenie
        </span>
        <nav aria-label="Main">
          {LINKS.map((l) => (
            <NavLink key={l.to} to={l.to} className={({ isActive }) => (isActive ? "active" : undefined)}>
              {l.label}
            </NavLink>
          ))}
        </nav>
        <button
          type="button"
          className="secondary signout"
          onClick={async () => {
            await signOut();
            navigate("/login", { replace: true });
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={location.pathname}>
          <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
