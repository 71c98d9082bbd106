// Routes. Every screen lives under /app/: on the shared origin, /chat, /documents, /profiles,
// /usage… are API paths (the local server and CloudFront send them to the functions), so a
// reload of a screen must not use them. The sign-in screens load with the app; every other
// screen is its own chunk, so the first screen stays small (Markdown and highlighting come with
// chat, the chart with usage).

import { lazy, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { AccountProvider, useAccount } from "./account";
import { useAuth } from "./auth";
import { ErrorAlert } from "./components/ErrorAlert";
import { Layout } from "./components/Layout";
import { Loading } from "./components/Notice";
import { AuthPage } from "./pages/AuthPage";
import { ForgotPasswordPage, ResetPasswordPage } from "./pages/PasswordResetPages";

const ChatPage = lazy(() => import("./pages/chat/ChatPage"));
const DocumentsPage = lazy(() => import("./pages/DocumentsPage"));
const ProfilesPage = lazy(() => import("./pages/ProfilesPage"));
const UsagePage = lazy(() => import("./pages/UsagePage"));
const SettingsPage = lazy(() => import("./pages/SettingsPage"));
const AdminPage = lazy(() => import("./pages/admin/AdminPage"));

function RequireAuth({ children }: { children: ReactNode }) {
  const { signedIn } = useAuth();
  const location = useLocation();
  if (!signedIn) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return children;
}

/** Admin screens: the server refuses anyone else (403); the app does not even try. */
function AdminOnly({ children }: { children: ReactNode }) {
  const { me, isAdmin, error } = useAccount();
  if (isAdmin) return children;
  return (
    <div className="page">
      <h1>Admin</h1>
      {me ? (
        <p role="alert" className="alert error">
          Only administrators can open this page.
        </p>
      ) : error ? (
        <ErrorAlert error={error} context="Account" />
      ) : (
        <Loading />
      )}
    </div>
  );
}

/** The sign-in screens; once signed in, on to where the user was going. */
function AnonymousOnly({ children }: { children: ReactNode }) {
  const { signedIn } = useAuth();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  return signedIn ? <Navigate to={from?.startsWith("/app/") ? from : "/app/chat"} replace /> : children;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<AnonymousOnly><AuthPage mode="signin" /></AnonymousOnly>} />
      <Route path="/signup" element={<AnonymousOnly><AuthPage mode="signup" /></AnonymousOnly>} />
      {/* Invite links: /register?invite=<token> (the server's POST /admin/invites names this path). */}
      <Route path="/register" element={<AnonymousOnly><AuthPage mode="signup" /></AnonymousOnly>} />
      <Route path="/forgot-password" element={<ForgotPasswordPage />} />
      {/* Not sign-in only: a link from the mail must work in a browser that is signed in. */}
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route
        element={
          <RequireAuth>
            <AccountProvider>
              <Layout />
            </AccountProvider>
          </RequireAuth>
        }
      >
        {/* One route, so creating a conversation mid-stream does not remount the screen. */}
        <Route path="/app/chat/:conversationId?" element={<ChatPage />} />
        <Route path="/app/documents" element={<DocumentsPage />} />
        <Route path="/app/profiles/:profileId?" element={<ProfilesPage />} />
        <Route path="/app/usage" element={<UsagePage />} />
        <Route path="/app/settings" element={<SettingsPage />} />
        <Route path="/app/admin" element={<AdminOnly><AdminPage /></AdminOnly>} />
      </Route>
      <Route path="*" element={<Navigate to="/app/chat" replace />} />
    </Routes>
  );
}
