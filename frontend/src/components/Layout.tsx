// The app shell: navigation, sign-out, and the screen inside an error boundary.

import { Suspense } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useAuth } from "../auth";
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
