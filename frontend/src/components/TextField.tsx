// A labelled text input (an email, a password, a name) bound to a string: the label's words, then
// the input inside the label, so the words name it. Other props (type, name, autoComplete,
// required, ref…) go to the input.

import type { ComponentProps, ReactNode } from "react";

type InputProps = Omit<ComponentProps<"input">, "value" | "onChange" | "children">;

export function TextField({
  label,
  value,
  onChange,
  labelClassName,
  ...input
}: InputProps & {
  label: ReactNode;
  value: string;
  onChange: (value: string) => void;
  /** The label's class ("inline" sets the words beside the input). */
  labelClassName?: string;
}) {
  return (
    <label className={labelClassName}>
      {label}
      <input {...input} value={value} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}
