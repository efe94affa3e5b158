import { describe, expect, test } from 'vitest';
import { buildRelationships, type Relationship } from '../../src/rest/relationship-graph.js';
import type { Column, ForeignKey, Relation } from '../../src/rest/schema.js';

const col = (name: string): [string, Column] => [
  name,
  { name, type: 'integer', nullable: true, hasDefault: false, generated: false },
];
const rel = (name: string, columns: string[], kind: Relation['kind'] = 'table', primaryKey = [columns[0] ?? 'id']) =>
  ({ schema: 'public', name, kind, columns: new Map(columns.map(col)), primaryKey, insertable: true }) as Relation;
const fk = (name: string, table: string, columns: string[], refTable: string, refColumns = ['id']): ForeignKey => ({
  name,
  schema: 'public',
  table,
  columns,
  refSchema: 'public',
  refTable,
  refColumns,
  oneToOne: false,
});

// Teams and players; a view of players renaming the key column (and showing it twice), a view of
// teams, and a junction of players and badges.
const teams = rel('teams', ['id', 'name']);
const players = rel('players', ['id', 'team_id']);
const badges = rel('badges', ['id']);
const awards = rel('awards', ['player_id', 'badge_id'], 'table', ['player_id', 'badge_id']);
const roster = rel('roster', ['pid', 'club', 'club_again'], 'view', []);
const clubs = rel('clubs', ['club_id'], 'view', []);
const relations = new Map([teams, players, badges, awards, roster, clubs].map((r) => [`public.${r.name}`, r]));
const FKS = [
  fk('players_team_id_fkey', 'players', ['team_id'], 'teams'),
  fk('awards_player_id_fkey', 'awards', ['player_id'], 'players'),
  fk('awards_badge_id_fkey', 'awards', ['badge_id'], 'badges'),
];
const VIEWS = [
  { view: roster, viewColumn: 'pid', table: players, tableColumn: 'id' },
  { view: roster, viewColumn: 'club', table: players, tableColumn: 'team_id' },
  { view: roster, viewColumn: 'club_again', table: players, tableColumn: 'team_id' },
  { view: clubs, viewColumn: 'club_id', table: teams, tableColumn: 'id' },
];

const describeRel = (r: Relationship) =>
  r.kind === 'many-to-many'
    ? `${r.kind} ${r.target.name} via ${r.junction.name}`
    : r.kind === 'computed'
      ? `${r.kind} ${r.target.name} by ${r.function.name}${r.toOne ? ' (one)' : ''}`
      : `${r.kind} ${r.target.name} ${r.fk.table}(${r.fk.columns.join(',')}) -> ${r.fk.refTable}(${r.fk.refColumns.join(',')})`;
const from = (graph: Map<string, Relationship[]>, name: string) => (graph.get(`public.${name}`) ?? []).map(describeRel);

describe('the relationship graph', () => {
  const graph = buildRelationships(relations, FKS, VIEWS, []);

  test('a foreign key reads both ways, and through views of either side', () => {
    expect(from(graph, 'teams')).toEqual([
      'one-to-many players players(team_id) -> teams(id)',
      'one-to-many roster roster(club) -> teams(id)',
      'one-to-many roster roster(club_again) -> teams(id)',
    ]);
    expect(from(graph, 'players')).toEqual([
      'one-to-many awards awards(player_id) -> players(id)',
      'many-to-many badges via awards',
      'many-to-one clubs players(team_id) -> clubs(club_id)',
      'many-to-one teams players(team_id) -> teams(id)',
    ]);
  });

  test('a view over both sides relates to the other view, once per naming of the key', () => {
    expect(from(graph, 'roster')).toEqual([
      'one-to-many awards awards(player_id) -> roster(pid)',
      // The junction's key to players reads as a key to the view of players too.
      'many-to-many badges via awards',
      'many-to-one clubs roster(club) -> clubs(club_id)',
      'many-to-one clubs roster(club_again) -> clubs(club_id)',
      'many-to-one teams roster(club) -> teams(id)',
      'many-to-one teams roster(club_again) -> teams(id)',
    ]);
  });

  test('a junction is many-to-many only when its primary key holds both keys', () => {
    const loose = rel('awards', ['player_id', 'badge_id'], 'table', ['player_id']);
    const without = buildRelationships(new Map([...relations, ['public.awards', loose]]), FKS, [], []);
    expect(from(without, 'badges')).toEqual(['one-to-many awards awards(badge_id) -> badges(id)']);
    expect(from(graph, 'badges')).toContain('many-to-many players via awards');
  });

  test('a function of a row is a computed relationship, and replaces keys to a relation named like it', () => {
    const computed = buildRelationships(
      relations,
      FKS,
      [],
      [
        { schema: 'public', name: 'teams', parent: players, target: teams, toOne: true },
        { schema: 'public', name: 'mates', parent: players, target: players, toOne: false },
      ],
    );
    expect(from(computed, 'players')).toEqual([
      'one-to-many awards awards(player_id) -> players(id)',
      'many-to-many badges via awards',
      'computed players by mates',
      'computed teams by teams (one)',
    ]);
  });
});
