/**
 * From one committed transaction (a bus message) to the deliveries for this instance's
 * subscribers: candidates by table and event, filters, then row-level security for the rows that
 * need it — all rows of one table in the transaction checked together, in as few calls as the
 * lookups allow — and the payload per role. Deliveries come out in commit order.
 */
import { API_ROLES, type Db } from '../../db/index.js';
import { evaluateConditions, visibleTo, type AuthorisationMode, type ClaimGroup } from './authorise.js';
import type { Catalog, TableInfo } from './catalog.js';
import type { ChangeData, ChangeSubscriber } from './contract.js';
import { buildChangeData, filterValues, primaryKeyOf } from './payload.js';
import {
  conditionKey,
  distinctConditions,
  groupByClaims,
  type Candidate,
  type Entry,
  type Group,
  type SubscriberRegistry,
} from './registry.js';
import type { WalBatch, WalChange } from './wire.js';

export interface Delivery {
  readonly entry: Entry;
  readonly subscriber: ChangeSubscriber;
  readonly ids: number[];
  readonly data: ChangeData;
}

export interface RouterDeps {
  readonly db: Db;
  readonly catalog: Catalog;
  readonly registry: SubscriberRegistry;
  readonly mode: AuthorisationMode;
}

interface Plan {
  readonly change: WalChange;
  readonly table: TableInfo;
  readonly groups: readonly Group[];
  /** Per group; filled by the row-level security check when the change needs one. */
  visible: boolean[];
}

export async function routeBatch(deps: RouterDeps, batch: WalBatch): Promise<Delivery[]> {
  const plans = (await Promise.all(batch.changes.map((change) => plan(deps, change)))).filter(
    (p): p is Plan => p !== undefined,
  );
  const checks = new Map<string, Plan[]>();
  for (const p of plans) {
    // DELETEs are not checked (the row is gone), as on Supabase; without RLS, grants decide.
    if (p.change.type === 'DELETE' || !p.table.rls || !p.table.hasPrimaryKey) continue;
    const key = `${p.table.schema}.${p.table.table}`;
    checks.set(key, [...(checks.get(key) ?? []), p]);
  }
  await Promise.all([...checks.values()].map((list) => checkRows(deps, list, batch.xid)));
  const out: Delivery[] = [];
  for (const p of plans) {
    const dataByRole = new Map<string, ChangeData>();
    p.groups.forEach((group, i) => {
      if (!p.visible[i]) return;
      let data = dataByRole.get(group.role);
      if (!data)
        dataByRole.set(group.role, (data = buildChangeData(p.change, batch.commitTimestamp, p.table, group.role)));
      for (const m of group.members) out.push({ entry: m.entry, subscriber: m.entry.subscriber, ids: m.ids, data });
    });
  }
  return out;
}

async function plan(deps: RouterDeps, change: WalChange): Promise<Plan | undefined> {
  const candidates = deps.registry.candidates(change.schema, change.table, change.type);
  if (candidates.length === 0) return undefined;
  const table = await deps.catalog.table(change.schema, change.table);
  if (!table) return undefined;
  const passing = await applyFilters(deps.db, candidates, change, table);
  const groups = groupByClaims(passing).filter((g) => API_ROLES.has(g.role) && table.selectableBy.has(g.role));
  if (groups.length === 0) return undefined;
  return { change, table, groups, visible: groups.map(() => true) };
}

/** One table's rows of one transaction, for the union of their groups. */
async function checkRows(deps: RouterDeps, plans: readonly Plan[], xid: number): Promise<void> {
  const table = (plans[0] as Plan).table;
  const index = new Map<string, number>();
  const groups: ClaimGroup[] = [];
  for (const p of plans) {
    for (const g of p.groups) {
      if (index.has(g.claims)) continue;
      index.set(g.claims, groups.length);
      groups.push({ role: g.role, claims: g.claims });
    }
  }
  const answers = await visibleTo(
    deps.db,
    table,
    plans.map((p) => primaryKeyOf(p.change, table)),
    groups,
    deps.mode,
    xid,
  );
  plans.forEach((p, row) => {
    p.visible = p.groups.map((g) => answers[row]?.[index.get(g.claims) as number] === true);
  });
}

async function applyFilters(db: Db, candidates: readonly Candidate[], change: WalChange, table: TableInfo) {
  const conditions = distinctConditions(candidates);
  const results = new Map<string, boolean>();
  if (conditions.size > 0) {
    const list = [...conditions.values()];
    const values = await evaluateConditions(db, table, list, filterValues(change));
    list.forEach((c, i) => results.set(conditionKey(c), values[i] === true));
  }
  return candidates
    .map((c) => ({
      entry: c.entry,
      ids: c.subscriptions.filter((s) => s.conditions.every((f) => results.get(conditionKey(f)))).map((s) => s.id),
    }))
    .filter((p) => p.ids.length > 0);
}
