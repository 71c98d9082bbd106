// The admin console: accounts (search, status filter, this month's spending; approve, suspend,
// reactivate, role, quota override, a one-time password-reset link, delete), who may sign up and
// the per-user limits, invites, models, and the deployment's usage by day and model. The route is
// admins-only in the app (App.tsx); the server refuses everyone else on every /admin call.

import { UsersSection } from "./UsersSection";
import { InvitesSection, RegistrationSection } from "./RegistrationSections";
import { AdminUsageSection } from "./AdminUsageSection";
import { ModelsSection } from "./ModelsSection";

export default function AdminPage() {
  return (
    <div className="page">
      <h1>Admin</h1>
      <nav aria-label="Admin sections" className="row small">
        <a href="#users-title">Users</a>
        <a href="#registration-title">Sign-up and limits</a>
        <a href="#invites-title">Invites</a>
        <a href="#models-title">Models</a>
        <a href="#admin-usage-title">Usage</a>
      </nav>
      <UsersSection />
      <RegistrationSection />
      <InvitesSection />
      <ModelsSection />
      <AdminUsageSection />
    </div>
  );
}
