-- ---------------------------------------------------------------------------
-- Erasure on request, and retention of the stage history and the feed
-- ---------------------------------------------------------------------------

-- _forget_records: what clm keeps about one customer in its own tables
-- (stage history, feed events, campaign memberships), removed as their
-- owner once the calling role is found to have DELETE on the customers
-- table and the customer is gone from it (erasure.c).
CREATE FUNCTION @extschema@._forget_records(customers regclass, customer_key text)
RETURNS TABLE (what text, removed bigint)
AS 'MODULE_PATHNAME', 'clm_forget_records'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._forget_records(regclass, text) IS
    'internal: removes a customer''s stage history, feed events and campaign memberships, if the calling role may delete from the customers table and the customer is gone from it';

-- forget_customer: erase one customer of one customers table from
-- everything clm keeps: its stage history, its feed events, its campaign
-- memberships, and its rows in the customer views the calling role can
-- see whose orders relation has a foreign key to the customers table,
-- which are refreshed (at their last as-of time) when they hold the
-- customer.  The customer's own rows (the customer row, its orders) are
-- the caller's to delete first; a customer still in the table, or still
-- shown by a customer view after its refresh, is an error, and then
-- nothing is removed.  Runs as the calling role.
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
BEGIN
    -- a partition's customers are recorded under the partitioned table
    customers_root := COALESCE(pg_catalog.pg_partition_root(customers), customers);
    RETURN QUERY SELECT f.what, f.removed FROM @extschema@._forget_records(customers_root, customer_key) AS f;

    -- the customer views of this table's customers (their orders relation
    -- has a foreign key to it) that show the customer: refreshed at their
    -- last as-of time, after which they must no longer show it
    FOR v IN
        SELECT r.view_schema, r.view_name
          FROM @extschema@.customer_view AS r
          JOIN pg_catalog.pg_namespace AS s ON s.nspname = r.view_schema
          JOIN pg_catalog.pg_class AS c ON c.relnamespace = s.oid AND c.relname = r.view_name
         WHERE c.relkind = 'm'
           AND EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                        WHERE k.contype = 'f'
                          AND k.conrelid = pg_catalog.to_regclass(r.orders_relation)
                          AND COALESCE(pg_catalog.pg_partition_root(k.confrelid), k.confrelid) = customers_root)
         ORDER BY r.view_schema, r.view_name
    LOOP
        label := format('%I.%I', v.view_schema, v.view_name);
        EXECUTE format('SELECT pg_catalog.count(*) FROM %s AS c WHERE c.customer_key::pg_catalog.text OPERATOR(pg_catalog.=) $1',
                       label)
            INTO n USING customer_key;
        CONTINUE WHEN n = 0;
        IF NOT @extschema@._customer_view_owned(v.view_schema, v.view_name) THEN
            RAISE EXCEPTION 'customer view % shows customer %, and only its owner may refresh it', label, customer_key
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Erase the customer as a role that owns the customer views showing it, or have their owner do it.';
        END IF;
        EXECUTE format('REFRESH MATERIALIZED VIEW %s', label);
        EXECUTE format('SELECT EXISTS (SELECT FROM %s AS c WHERE c.customer_key::pg_catalog.text OPERATOR(pg_catalog.=) $1)',
                       label)
            INTO still USING customer_key;
        IF still THEN
            RAISE EXCEPTION 'customer view % still shows customer % after its refresh', label, customer_key
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Its orders relation %s still has orders of the customer.',
                                      (SELECT r.orders_relation FROM @extschema@.customer_view AS r
                                        WHERE r.view_schema = v.view_schema AND r.view_name = v.view_name)),
                      HINT = 'Delete the customer''s orders first, then call clm.forget_customer.';
        END IF;
        what := 'customer view ' || label;
        removed := n;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION @extschema@.forget_customer(regclass, text) IS
    'erasure on request: removes a customer (key as text) of a customers table from clm''s stage history, feed events and campaign memberships, and refreshes the customer views that still show it; needs DELETE on the customers table, and the customer row and its orders deleted first; returns the rows removed per table or view';

-- purge_history: retention of the stage history of one customers table.
CREATE FUNCTION @extschema@.purge_history(customers regclass, older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_purge_history'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.purge_history(regclass, interval) IS
    'retention: removes the feed events of a customers table recorded before now() - older_than, and its stage changes dated before then except each customer''s latest (when its current stage began); needs DELETE on the customers table; returns the rows removed';
