/** The signed-in frame: the navigation on the left, the current page on the right. */
import type { ComponentChildren } from 'preact';

export interface NavItem {
  route: string;
  title: string;
}

export function NavLayout(props: {
  title: string;
  items: readonly NavItem[];
  current: string;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  return (
    <div class="shell">
      <nav>
        <h1>{props.title}</h1>
        {props.items.map((p) => (
          <a
            key={p.route}
            href={`#/${p.route}`}
            class={p.route === props.current ? 'active' : undefined}
            aria-current={p.route === props.current ? 'page' : undefined}
          >
            {p.title}
          </a>
        ))}
        <a
          href="#"
          onClick={(e) => {
            e.preventDefault();
            props.onSignOut();
          }}
        >
          Sign out
        </a>
      </nav>
      <main id={`page-${props.current}`}>{props.children}</main>
    </div>
  );
}

/** Figures in cards: a label and a big value each. */
export function StatCards({ id, items }: { id?: string; items: readonly [string, string | number][] }) {
  return (
    <div class="cards" id={id}>
      {items.map(([label, value]) => (
        <div key={label} class="card">
          {label}
          <b>{value}</b>
        </div>
      ))}
    </div>
  );
}

export function Badge({ on, children }: { on?: boolean; children: ComponentChildren }) {
  return <span class={on === undefined ? 'badge' : `badge ${on ? 'on' : 'off'}`}>{children}</span>;
}
