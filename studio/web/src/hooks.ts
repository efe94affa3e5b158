/** The few hooks the pages share: the hash route, a load's outcome as state, a poll. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { attempt, type Outcome } from './api.js';

/** The route's segments after `#/`, decoded: `#/tables/public/notes` → ['tables', 'public', 'notes']. */
export function useHashRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** `undefined` while the first load runs; afterwards the last load's outcome (kept while a reload runs). */
export type Loaded<T> = Outcome<T> | undefined;

/** Runs `load` when `deps` change (and on `reload()`); an answer that arrives after a newer load started is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): [Loaded<T>, () => Promise<void>] {
  const [state, setState] = useState<Loaded<T>>(undefined);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    const outcome = await attempt(() => loadRef.current());
    if (ticket === latest.current) setState(outcome);
  }, []);
  useEffect(() => {
    void reload();
    // The caller names what the load depends on (as React's useEffect deps).
  }, deps);
  return [state, reload];
}

/** Calls `tick` now and every `ms` while the component is shown, and at once again when `deps` change. */
export function useInterval(tick: () => void, ms: number, deps: readonly unknown[] = []): void {
  const ref = useRef(tick);
  ref.current = tick;
  useEffect(() => {
    ref.current();
    const timer = setInterval(() => ref.current(), ms);
    return () => clearInterval(timer);
  }, [ms, ...deps]);
}
