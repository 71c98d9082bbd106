// A value to hand on (an invite or reset link): read-only, selected on focus, with a Copy button.

import { useState } from "react";
import { copyText } from "../pages/chat/copy";

export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="row">
      <label className="inline grow">
        {label}
        <input readOnly value={value} onFocus={(e) => e.target.select()} />
      </label>
      <button type="button" className="secondary" onClick={async () => setCopied(await copyText(value))}>
        {copied ? "Copied" : "Copy link"}
      </button>
    </div>
  );
}
