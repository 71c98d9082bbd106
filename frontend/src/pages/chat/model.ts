// The model rule as the server applies it (explicit → conversation → profile → preferences →
// catalog default), for showing which model will answer before the user picks one.

export function effectiveModel(named: {
  conversation?: string | null;
  profile?: string | null;
  preferences?: string | null;
  catalog?: string | null;
}): string {
  for (const m of [named.conversation, named.profile, named.preferences, named.catalog]) {
    if (m && m.trim()) return m;
  }
  return "";
}
