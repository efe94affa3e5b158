/** The one button: `primary` (green, the page's main action), `plain` (grey) or `danger` (red). */
import type { ButtonHTMLAttributes } from 'preact';

export type ButtonVariant = 'primary' | 'plain' | 'danger';

export interface ButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'class' | 'className'> {
  variant?: ButtonVariant;
  /** Shown as busy and not clickable, e.g. while its request runs. */
  busy?: boolean;
}

export function Button({
  variant = 'primary',
  busy = false,
  disabled,
  type = 'button',
  children,
  ...rest
}: ButtonProps) {
  return (
    <button
      {...rest}
      type={type}
      class={variant === 'primary' ? undefined : variant}
      disabled={disabled === true || busy}
      aria-busy={busy || undefined}
    >
      {children}
    </button>
  );
}
