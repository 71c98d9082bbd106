// A button that opens and closes a menu or drawer on a narrow screen (hidden by CSS where the
// menu is always shown): it says whether it is open and which element it controls.

import { forwardRef } from "react";

interface Props {
  open: boolean;
  /** The id of the element it shows and hides. */
  controls: string;
  label: string;
  className: string;
  onToggle: () => void;
}

export const MenuButton = forwardRef<HTMLButtonElement, Props>(function MenuButton({ open, controls, label, className, onToggle }, ref) {
  return (
    <button ref={ref} type="button" className={`secondary ${className}`} aria-expanded={open} aria-controls={controls} onClick={onToggle}>
      <span aria-hidden="true">☰</span> {label}
    </button>
  );
});
