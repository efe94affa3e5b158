-- Partitioned tables in postgres_changes (src/realtime/changes/): a partitioned table's rows live
-- in its partitions, and by default a publication sends each change as the partition that holds
-- the row (and pg_publication_tables lists the partitions, not the table the user added).
-- With publish_via_partition_root, pgoutput sends a change as the partitioned table the user put
-- in the publication: its schema, its name, its columns in its order (whatever each partition's
-- own layout), so subscriptions, filters and row-level security of that table apply, as on
-- Supabase. Plain tables, and partitions added to the publication on their own without their
-- parent, are sent as before.
do $$
begin
  if exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    alter publication supabase_realtime set (publish_via_partition_root = true);
  end if;
end
$$;
