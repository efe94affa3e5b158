/**
 * Tabs over panels. Every panel stays rendered (hidden when not chosen), so a poll in one keeps its
 * state and the page's text (search, tests) holds them all.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export interface Tab {
  id: string;
  title: ComponentChildren;
  content: ComponentChildren;
}

export function Tabs({ tabs, initial }: { tabs: Tab[]; initial?: string }) {
  const [chosen, setChosen] = useState(initial ?? tabs[0]?.id ?? '');
  const current = tabs.some((t) => t.id === chosen) ? chosen : (tabs[0]?.id ?? '');
  return (
    <div class="tabs">
      <div class="tab-list" role="tablist">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={t.id === current}
            aria-controls={`panel-${t.id}`}
            class={t.id === current ? 'tab active' : 'tab'}
            onClick={() => setChosen(t.id)}
          >
            {t.title}
          </button>
        ))}
      </div>
      {tabs.map((t) => (
        <div
          key={t.id}
          role="tabpanel"
          id={`panel-${t.id}`}
          aria-labelledby={`tab-${t.id}`}
          hidden={t.id !== current}
          class="tab-panel"
        >
          {t.content}
        </div>
      ))}
    </div>
  );
}
