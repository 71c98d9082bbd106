// The app shell: navigation, sign-out, and the screen inside an error boundary. On a narrow
// screen (a phone) the navigation and sign-out fold into a menu opened by one button.

import { Suspense, useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useAccount } from "../account";
import { preferences } from "../api/endpoints";
import { useAuth } from "../auth";
import { applyTheme } from "../lib/theme";
import { ErrorBoundary } from "./ErrorBoundary";
import { MenuButton } from "./MenuButton";
import { Loading } from "./Notice";
import { StandingScreen } from "./StandingScreen";

const LINKS = [
  { to: "/app/chat", label: "Chat" },
  { to: "/app/documents", label: "Documents" },
  { to: "/app/profiles", label: "Profiles" },
  { to: "/app/usage", label: "Usage" },
  { to: "/app/settings", label: "Settings" },
];
const ADMIN_LINK = { to: "/app/admin", label: "Admin" };

export function Layout() {
  const { signOut } = useAuth();
  const account = useAccount();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const toggleRef = useRef<HTMLButtonElement>(null);

  // The theme follows the account across devices: apply the saved preference once signed in.
  useEffect(() => {
    preferences
      .get()
      .then((p) => p?.theme && applyTheme(p.theme))
      .catch(() => undefined); // the local choice stays; Settings shows the error
  }, []);

  // Going somewhere closes the menu.
  useEffect(() => setMenuOpen(false), [location.pathname]);

  const leave = async () => {
    await signOut();
    navigate("/login", { replace: true });
  };

  if (account.standing === "pending" || account.standing === "suspended") {
    return <StandingScreen standing={account.standing} onCheck={account.reload} onSignOut={leave} />;
  }
  const links = account.isAdmin ? [...LINKS, ADMIN_LINK] : LINKS;

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header
        className={`topbar${menuOpen ? " open" : ""}`}
        onKeyDown={(e) => {
          if (e.key === "Escape" && menuOpen) {
            setMenuOpen(false);
            toggleRef.current?.focus();
          }
        }}
      >
        <span className="brand">RaGenie</span>
        <MenuButton
          ref={toggleRef}
          className="menu-toggle"
          open={menuOpen}
          controls="main-menu"
          label="Menu"
          onToggle={() => setMenuOpen((o) => !o)}
        />
        <div className="topbar-menu" id="main-menu">
          <nav aria-label="Main">
            {links.map((l) => (
              <NavLink key={l.to} to={l.to} className={({ isActive }) => (isActive ? "active" : undefined)}>
                {l.label}
              </NavLink>
            ))}
          </nav>
          <button
            type="button"
            className="secondary signout"
            onClick={leave}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={location.pathname}>
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
