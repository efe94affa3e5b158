/**
 * Where errors and notices are shown: ErrorBanner is the one rendering of an error; Toasts are
 * short notices in the corner ("Saved."), errors among them staying until closed; Await renders
 * a load's outcome (loading, its error, or its data); PageBoundary keeps a page's bug on that page.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useErrorBoundary, useRef, useState } from 'preact/hooks';
import type { Outcome } from '../api.js';

export function ErrorBanner({ error, onClose }: { error: unknown; onClose?: () => void }) {
  return (
    <div class="error" role="alert">
      {onClose && (
        <button type="button" class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      )}
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

export function Await<T>({
  value,
  children,
}: {
  value: Outcome<T> | undefined;
  children: (data: T) => ComponentChildren;
}) {
  if (value === undefined) return <p class="muted">Loading…</p>;
  if (!value.ok) return <ErrorBanner error={value.error} />;
  return <>{children(value.value)}</>;
}

interface Toast {
  key: number;
  /** An element id, so that a test (or a script) can wait for this notice. */
  id?: string;
  text?: ComponentChildren;
  error?: Error;
}

export interface Notify {
  /** A notice that goes away by itself after a few seconds. */
  done: (text: ComponentChildren, id?: string) => void;
  /** An error that stays until closed. */
  failed: (error: Error) => void;
}

const ToastContext = createContext<Notify>({ done: () => undefined, failed: () => undefined });

export const useToast = (): Notify => useContext(ToastContext);

const TOAST_MS = 5000;

export function ToastProvider({ children }: { children: ComponentChildren }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(0);
  const remove = useCallback((key: number) => setToasts((list) => list.filter((t) => t.key !== key)), []);
  const add = useCallback(
    (toast: Omit<Toast, 'key'>) => {
      const key = ++next.current;
      // A notice with an id replaces the one before it, so that an id stays unique in the page.
      setToasts((list) => [...list.filter((t) => !toast.id || t.id !== toast.id), { ...toast, key }].slice(-5));
      if (!toast.error) setTimeout(() => remove(key), TOAST_MS);
    },
    [remove],
  );
  const notify = useRef<Notify>({
    done: (text, id) => add({ text, id }),
    failed: (error) => add({ error }),
  });
  return (
    <ToastContext.Provider value={notify.current}>
      {children}
      <div class="toasts" aria-live="polite">
        {toasts.map((t) =>
          t.error ? (
            <ErrorBanner key={t.key} error={t.error} onClose={() => remove(t.key)} />
          ) : (
            <div key={t.key} id={t.id} class="toast" role="status">
              {t.text}
            </div>
          ),
        )}
      </div>
    </ToastContext.Provider>
  );
}

/** A page that throws while rendering shows the error in its place; the navigation and the other pages stay. */
export function PageBoundary({ children }: { children: ComponentChildren }) {
  const [caught, reset] = useErrorBoundary() as [unknown, () => void];
  if (caught === undefined || caught === null) return <>{children}</>;
  return (
    <>
      <ErrorBanner error={caught instanceof Error ? new Error(`This page failed: ${caught.message}`) : caught} />
      <button type="button" class="plain" onClick={reset}>
        Try again
      </button>
    </>
  );
}
