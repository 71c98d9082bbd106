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

/** What the user last chose for a new chat: a profile, and a model only if they picked one. */
export interface LastChoice {
  profile: string;
  model: string;
}

const LAST_KEY = "ragenie.chat.last";

/** The last choice, kept on this device so "new chat" (and a reload) starts with it. */
export function lastChoice(): LastChoice {
  try {
    const v = JSON.parse(localStorage.getItem(LAST_KEY) ?? "null") as Partial<LastChoice> | null;
    return { profile: typeof v?.profile === "string" ? v.profile : "", model: typeof v?.model === "string" ? v.model : "" };
  } catch {
    return { profile: "", model: "" };
  }
}

export function rememberChoice(choice: Partial<LastChoice>) {
  try {
    localStorage.setItem(LAST_KEY, JSON.stringify({ ...lastChoice(), ...choice }));
  } catch {
    // storage unavailable: new chats start from the defaults
  }
}
