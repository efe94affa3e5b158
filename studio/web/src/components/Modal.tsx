/** A modal dialog over the page: Escape or the backdrop closes it, focus goes to its first field. */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { Button } from './Button.js';
import { TextField } from './Field.js';

export interface ModalProps {
  id?: string;
  title: ComponentChildren;
  onClose: () => void;
  children: ComponentChildren;
  /** Buttons at the bottom (Save, Cancel…). */
  footer?: ComponentChildren;
  wide?: boolean;
}

export function Modal({ id, title, onClose, children, footer, wide = false }: ModalProps) {
  const box = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  // A layout effect, run as the dialog is put in the page: a useEffect runs after the next paint,
  // and its focus() would take the caret from a field the user (or a test) has started typing in.
  useLayoutEffect(() => {
    const before = document.activeElement;
    if (!box.current?.contains(before))
      box.current?.querySelector<HTMLElement>('input:not([disabled]), textarea, select, button')?.focus();
    const key = (e: KeyboardEvent) => e.key === 'Escape' && close.current();
    window.addEventListener('keydown', key);
    return () => {
      window.removeEventListener('keydown', key);
      if (before instanceof HTMLElement) before.focus();
    };
  }, []);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div
        id={id}
        ref={box}
        class={wide ? 'modal wide' : 'modal'}
        role="dialog"
        aria-modal="true"
        aria-labelledby={id && `${id}-title`}
      >
        <h3 id={id && `${id}-title`}>{title}</h3>
        <div class="modal-body">{children}</div>
        {footer && <div class="row modal-footer">{footer}</div>}
      </div>
    </div>
  );
}

/** "Are you sure?": the question, a (red) button that does it, Cancel. */
export function ConfirmDialog(props: {
  title: string;
  children?: ComponentChildren;
  confirm: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Modal
      id="confirm"
      title={props.title}
      onClose={props.onClose}
      footer={
        <>
          <Button
            id="confirm-yes"
            variant="danger"
            onClick={() => {
              props.onClose();
              props.onConfirm();
            }}
          >
            {props.confirm}
          </Button>
          <Button variant="plain" onClick={props.onClose}>
            Cancel
          </Button>
        </>
      }
    >
      {props.children}
    </Modal>
  );
}

/** Asks for one line of text (a name). */
export function PromptDialog(props: {
  title: string;
  label: string;
  onSubmit: (value: string) => void;
  onClose: () => void;
}) {
  const [value, setValue] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (value.trim() === '') return;
    props.onClose();
    props.onSubmit(value.trim());
  };
  return (
    <Modal id="prompt" title={props.title} onClose={props.onClose}>
      <form onSubmit={submit}>
        <TextField id="prompt-value" label={props.label} value={value} onValue={setValue} />
        <div class="row modal-footer">
          <Button type="submit" disabled={value.trim() === ''}>
            OK
          </Button>
          <Button variant="plain" onClick={props.onClose}>
            Cancel
          </Button>
        </div>
      </form>
    </Modal>
  );
}
