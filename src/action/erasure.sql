-- ---------------------------------------------------------------------------
-- Erasure on request, and retention of the stage history and the feed
-- ---------------------------------------------------------------------------

-- _forget_records: what clm keeps about one customer in its own tables
-- (stage history, feed events, campaign memberships), removed as their
-- owner once the calling role is found to have DELETE on the customers
-- table and the customer is gone from it (erasure.c); with the key as clm
-- keeps it (read as the key column's type and written out by it).
CREATE FUNCTION @extschema@._forget_records(customers regclass, customer_key text)
RETURNS TABLE (what text, removed bigint, kept_key text)
AS 'MODULE_PATHNAME', 'clm_forget_records'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._forget_records(regclass, text) IS
    'internal: removes a customer''s stage history, feed events and campaign memberships, if the calling role may delete from the customers table and the customer is gone from it; returns the rows removed per table and the key as clm keeps it';

-- _run_on_citus_workers: on a Citus coordinator, a command run on every
-- worker as the calling role, for a customers table that is a Citus table
-- (whose guards record its history on the workers, next to its shards);
-- each worker's result, the command's one value, in node order.  Nothing
-- elsewhere, and nothing for a Citus local table (kept on the
-- coordinator).  Each worker runs the command in a transaction of its
-- own, which commits there whatever becomes of the caller's: a worker that
-- fails is an error, and the other workers keep what they did.  The
-- coordinator is the node of group 0 (pg_dist_local_group, in every Citus
-- version; a worker without metadata is group 0 too, but has no Citus
-- tables).
CREATE FUNCTION @extschema@._run_on_citus_workers(customers regclass, command text)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    node record;
    results text[] := '{}';
    failed text[] := '{}';
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN;                 -- no Citus
    END IF;
    -- a Citus table whose shards are on the workers (a Citus local table,
    -- method n, not a reference table, no co-location, is on the
    -- coordinator)
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) customers
                      AND NOT (p.partmethod OPERATOR(pg_catalog.=) 'n'
                               AND p.repmodel OPERATOR(pg_catalog.<>) 't'
                               AND p.colocationid OPERATOR(pg_catalog.=) 0))
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_dist_local_group AS l
                       WHERE l.groupid OPERATOR(pg_catalog.=) 0) THEN
        RETURN;
    END IF;
    FOR node IN
        SELECT r.nodename, r.nodeport, r.success, r.result
          FROM pg_catalog.run_command_on_workers(command) AS r
         ORDER BY r.nodename, r.nodeport
    LOOP
        IF node.success THEN
            results := results OPERATOR(pg_catalog.||) node.result;
        ELSE
            failed := failed OPERATOR(pg_catalog.||)
                pg_catalog.format('%s:%s: %s', node.nodename, node.nodeport, node.result);
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(failed) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'clm could not finish on every Citus worker'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Failed on %s', pg_catalog.array_to_string(failed, '; ')),
                  HINT = 'Each worker runs its part as the calling role, in a transaction of its own that sees only committed rows (commit the deletion of a customer first). Mend what the workers reported and call it again; what the other workers removed stays removed.';
    END IF;
    RETURN QUERY SELECT pg_catalog.unnest(results);
END
$fn$;
COMMENT ON FUNCTION @extschema@._run_on_citus_workers(regclass, text) IS
    'internal: on a Citus coordinator, for a Citus customers table, runs a command on every worker as the calling role and returns each worker''s result; nothing elsewhere';

-- forget_customer: erase one customer of one customers table from
-- everything clm keeps: its stage history, its feed events, its campaign
-- memberships, and its rows in the customer views the calling role can
-- see whose orders relation has a foreign key to the customers table,
-- which are refreshed (at their last as-of time) when they hold the
-- customer.  The customer's own rows (the customer row, its orders) are
-- the caller's to delete first; a customer still in the table, or still
-- shown by a customer view after its refresh, is an error, and then
-- nothing is removed.  Runs as the calling role.  On a Citus coordinator
-- the workers then erase what they keep of a Citus table's customer, each
-- in a transaction of its own (_run_on_citus_workers): last, once the
-- coordinator's part, customer views included, has succeeded.  The counts
-- are the sums over the nodes.
CREATE FUNCTION @extschema@.forget_customer(customers regclass, customer_key text)
RETURNS TABLE (what text, removed bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    still boolean;
    v record;
    label text;
    n bigint;
    customers_root regclass;
    tables text[];
    counts bigint[];
    views text[] := '{}';
    view_counts bigint[] := '{}';
    worker text;
    i integer;
    kept_key text;
    eq text;
    shows text;
BEGIN
    -- a partition's customers are recorded under the partitioned table
    customers_root := COALESCE(pg_catalog.pg_partition_root(customers), customers);
    SELECT pg_catalog.array_agg(f.what), pg_catalog.array_agg(f.removed), pg_catalog.min(f.kept_key)
      FROM @extschema@._forget_records(customers_root, customer_key) AS f
      INTO tables, counts, kept_key;

    -- the customer views of this table's customers (their orders relation
    -- has a foreign key to it, or a clm.stage_on_order trigger naming it)
    -- that show the customer: refreshed at their last as-of time, after
    -- which they must no longer show it
    FOR v IN
        SELECT r.view_schema, r.view_name, a.atttypid::pg_catalog.regtype AS key_type
          FROM @extschema@.customer_view AS r
          JOIN pg_catalog.pg_namespace AS s ON s.nspname = r.view_schema
          JOIN pg_catalog.pg_class AS c ON c.relnamespace = s.oid AND c.relname = r.view_name
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'customer_key'
         WHERE c.relkind = 'm'
           AND (EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                         WHERE k.contype = 'f'
                           AND k.conrelid = pg_catalog.to_regclass(r.orders_relation)
                           AND COALESCE(pg_catalog.pg_partition_root(k.confrelid), k.confrelid) = customers_root)
                OR EXISTS (SELECT FROM pg_catalog.unnest(@extschema@._orders_customers(
                                           pg_catalog.to_regclass(r.orders_relation))) AS t(customers)
                            WHERE COALESCE(pg_catalog.pg_partition_root(t.customers), t.customers) = customers_root))
         ORDER BY r.view_schema, r.view_name
    LOOP
        label := format('%I.%I', v.view_schema, v.view_name);
        -- the view's key (the orders' spelling) compared with the key as clm
        -- keeps it as the view's key type compares them (citext
        -- case-insensitively, numeric by value); a key that type cannot
        -- hold is not in the view
        BEGIN
            EXECUTE format('SELECT $1::%s', v.key_type) USING kept_key;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN
            CONTINUE;
        END;
        eq := @extschema@._eq_operator(v.key_type);
        shows := CASE WHEN eq IS NULL THEN 'c.customer_key::pg_catalog.text OPERATOR(pg_catalog.=) $1'
                      ELSE format('c.customer_key %s $1::%s', eq, v.key_type) END;
        EXECUTE format('SELECT pg_catalog.count(*) FROM %s AS c WHERE %s', label, shows)
            INTO n USING kept_key;
        CONTINUE WHEN n = 0;
        IF NOT @extschema@._customer_view_owned(v.view_schema, v.view_name) THEN
            RAISE EXCEPTION 'customer view % shows customer %, and only its owner may refresh it', label, customer_key
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Erase the customer as a role that owns the customer views showing it, or have their owner do it.';
        END IF;
        EXECUTE format('REFRESH MATERIALIZED VIEW %s', label);
        EXECUTE format('SELECT EXISTS (SELECT FROM %s AS c WHERE %s)', label, shows)
            INTO still USING kept_key;
        IF still THEN
            RAISE EXCEPTION 'customer view % still shows customer % after its refresh', label, customer_key
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its orders relation %s still has orders of the customer.',
                                      (SELECT r.orders_relation FROM @extschema@.customer_view AS r
                                        WHERE r.view_schema = v.view_schema AND r.view_name = v.view_name)),
                      HINT = 'Delete the customer''s orders first, then call clm.forget_customer.';
        END IF;
        views := views OPERATOR(pg_catalog.||) ('customer view ' OPERATOR(pg_catalog.||) label);
        view_counts := view_counts OPERATOR(pg_catalog.||) n;
    END LOOP;

    -- the workers' part, which commits on each worker at once
    FOR worker IN
        SELECT w FROM @extschema@._run_on_citus_workers(customers_root, pg_catalog.format(
            'SELECT pg_catalog.json_object_agg(f.what, f.removed) FROM %s._forget_records(%L::pg_catalog.regclass, %L) AS f',
            '@extschema@', customers_root::text, customer_key)) AS w
    LOOP
        FOR i IN 1 .. pg_catalog.array_length(tables, 1) LOOP
            counts[i] := counts[i] OPERATOR(pg_catalog.+)
                COALESCE((worker::pg_catalog.json OPERATOR(pg_catalog.->>) tables[i])::bigint, 0);
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT t.what, t.removed
                   FROM ROWS FROM (pg_catalog.unnest(tables OPERATOR(pg_catalog.||) views),
                                   pg_catalog.unnest(counts OPERATOR(pg_catalog.||) view_counts)) AS t(what, removed);
END
$fn$;
COMMENT ON FUNCTION @extschema@.forget_customer(regclass, text) IS
    'erasure on request: removes a customer (key as text) of a customers table from clm''s stage history, feed events and campaign memberships (on the Citus workers too), and refreshes the customer views that still show it; needs DELETE on the customers table, and the customer row and its orders deleted first; returns the rows removed per table or view';

-- purge_history: retention of the stage history of one customers table.
CREATE FUNCTION @extschema@.purge_history(customers regclass, older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_purge_history'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.purge_history(regclass, interval) IS
    'retention: removes the feed events of a customers table recorded before now() - older_than, and its stage changes dated before then except each customer''s latest (when its current stage began), on the Citus workers too; needs DELETE on the customers table; returns the rows removed';
