-- ---------------------------------------------------------------------------
-- Referrals: who brought whom, and the advocates among them
-- ---------------------------------------------------------------------------

-- referral_source: the referrals table adopted for a customers table by
-- clm.adopt_referrals, and its columns.  clm.stage_on_order and
-- clm.refresh_stages read it: a loyal customer of that customers table
-- becomes an advocate once advocate_min_referrals of the customers they
-- referred have made their first purchase within advocate_window_days of
-- being referred (the policy's).  The tables are kept by OID: the row
-- follows a rename, and goes when either table is dropped
-- (clm.action_detach_dropped).  A row belongs to the owner of its
-- customers table.
CREATE TABLE @extschema@.referral_source (
    customers           regclass PRIMARY KEY,
    customer_key_column name NOT NULL,
    referrals           regclass NOT NULL UNIQUE,
    referrer_column     name NOT NULL,
    referred_column     name NOT NULL,
    referred_at_column  name NOT NULL,
    adopted_at          timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp()
);
COMMENT ON TABLE @extschema@.referral_source IS
    'the referrals table adopted for each customers table (clm.adopt_referrals): who referred whom and when, read by clm.stage_on_order and clm.refresh_stages to make advocates; a row belongs to the owner of its customers table';
COMMENT ON COLUMN @extschema@.referral_source.customers IS
    'the customers table whose stages the referrals move (by OID: follows a rename)';
COMMENT ON COLUMN @extschema@.referral_source.customer_key_column IS
    'the customers table''s key column, which the referrer and referred columns hold';
COMMENT ON COLUMN @extschema@.referral_source.referrals IS
    'the user''s referrals table, one row per referral (by OID)';
COMMENT ON COLUMN @extschema@.referral_source.referrer_column IS
    'the column of the referring customer''s key';
COMMENT ON COLUMN @extschema@.referral_source.referred_column IS
    'the column of the referred customer''s key';
COMMENT ON COLUMN @extschema@.referral_source.referred_at_column IS
    'when the referral was made: the referred customer''s first purchase counts if it falls within the policy''s advocate_window_days from then';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.referral_source', '');

-- Everyone reads the registry (every role that inserts orders runs the
-- trigger that reads it); only roles with the rights of the owner of a
-- customers table adopt, change or release its referrals.
CREATE FUNCTION @extschema@._referral_source_owned(customers regclass)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_catalog.pg_class AS c
                WHERE c.oid = customers AND pg_catalog.pg_has_role(c.relowner, 'USAGE'));
COMMENT ON FUNCTION @extschema@._referral_source_owned(regclass) IS
    'internal: whether the current role has the rights of the owner of the table (as ALTER TABLE requires)';
ALTER TABLE @extschema@.referral_source ENABLE ROW LEVEL SECURITY;
CREATE POLICY referral_source_read ON @extschema@.referral_source FOR SELECT USING (true);
COMMENT ON POLICY referral_source_read ON @extschema@.referral_source IS
    'every role reads the registry: the triggers of every role that inserts orders read it';
CREATE POLICY referral_source_insert ON @extschema@.referral_source FOR INSERT
    WITH CHECK (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_insert ON @extschema@.referral_source IS
    'only members of the owner of a customers table adopt referrals for it';
CREATE POLICY referral_source_update ON @extschema@.referral_source FOR UPDATE
    USING (@extschema@._referral_source_owned(customers))
    WITH CHECK (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_update ON @extschema@.referral_source IS
    'only members of the owner of a customers table change its referrals';
CREATE POLICY referral_source_delete ON @extschema@.referral_source FOR DELETE
    USING (@extschema@._referral_source_owned(customers));
COMMENT ON POLICY referral_source_delete ON @extschema@.referral_source IS
    'only members of the owner of a customers table release its referrals';
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.referral_source TO PUBLIC;
CREATE TRIGGER referral_source_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.referral_source
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.lifecycle_config_changed();
COMMENT ON TRIGGER referral_source_changed ON @extschema@.referral_source IS
    'makes every backend''s clm.stage_on_order triggers read the registry again';

-- referral_source_check: every row, however written (clm.adopt_referrals
-- or INSERT and UPDATE by hand), names two plain or partitioned tables,
-- not temporary ones (other sessions cannot read those, and their end
-- drops them without an event), both owned by roles whose rights the
-- writing role has: the referrals table is read by every role that
-- inserts orders, so it must be the customers owner's own, not one whose
-- owner could hang code on it (row security policies) for those roles to
-- run.  The referrer and referred columns hold keys of the customers table
-- and have its key's type; the referred-at column is timestamptz.
CREATE FUNCTION @extschema@.referral_source_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r regclass;
    key_type regtype;
BEGIN
    FOREACH r IN ARRAY ARRAY[NEW.customers, NEW.referrals] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                        WHERE c.oid = r AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't') THEN
            RAISE EXCEPTION '% is not a table', r
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Adopt a plain or partitioned table, not a view or a temporary table.';
        END IF;
        IF NOT @extschema@._referral_source_owned(r) THEN
            RAISE EXCEPTION 'must be owner of table %', r
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'The referrals decide stages of the customers table, and every role that inserts orders reads them.',
                      HINT = 'Adopt referrals as the owner of both tables (or with that owner''s rights).';
        END IF;
    END LOOP;
    key_type := @extschema@._column_type(NEW.customers, NEW.customer_key_column, 'customer_key_column');
    IF @extschema@._column_type(NEW.referrals, NEW.referrer_column, 'referrer_column') <> key_type
       OR @extschema@._column_type(NEW.referrals, NEW.referred_column, 'referred_column') <> key_type THEN
        RAISE EXCEPTION 'the referrer and referred columns must have the type of the customer key, %', key_type
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = pg_catalog.format('%I is %s and %I is %s.',
                                             NEW.referrer_column, @extschema@._column_type(NEW.referrals, NEW.referrer_column, 'referrer_column'),
                                             NEW.referred_column, @extschema@._column_type(NEW.referrals, NEW.referred_column, 'referred_column')),
                  HINT = 'Both hold keys of the customers table.';
    END IF;
    IF @extschema@._column_type(NEW.referrals, NEW.referred_at_column, 'referred_at_column') <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'column "%" of % must be of type timestamp with time zone', NEW.referred_at_column, NEW.referrals
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'It says when the referral was made.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION @extschema@.referral_source_check() IS
    'checks every row written to clm.referral_source: two tables (not temporary) owned by roles whose rights the writer has, columns of the customer key''s type and a timestamptz referred-at column';
CREATE TRIGGER referral_source_check
    BEFORE INSERT OR UPDATE ON @extschema@.referral_source
    FOR EACH ROW EXECUTE FUNCTION @extschema@.referral_source_check();
COMMENT ON TRIGGER referral_source_check ON @extschema@.referral_source IS
    'every adoption is checked, however it is written (clm.referral_source_check)';

-- adopt_referrals: clm reads the user's referrals table as it is, like the
-- orders table: the columns are named, not imposed.  The referrer and
-- referred columns hold keys of the customers table (of its key's type);
-- a referrer that is not (yet) a customer, and a referral of oneself, are
-- allowed and count for nothing.
CREATE FUNCTION @extschema@.adopt_referrals(
    customers regclass,
    referrals regclass,
    referrer_column name,
    referred_column name,
    referred_at_column name,
    customer_key_column name DEFAULT NULL)
RETURNS @extschema@.referral_source
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_column name := customer_key_column;
    result @extschema@.referral_source;
BEGIN
    IF customers IS NULL OR referrals IS NULL THEN
        RAISE EXCEPTION 'customers and referrals must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the rest is checked by clm.referral_source_check, for every writer
    IF NOT @extschema@._campaign_readable(referrals) THEN
        RAISE EXCEPTION 'permission denied for table %', referrals
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The roles that insert orders read the referrals table too: grant them SELECT on it.';
    END IF;
    key_column := @extschema@._customer_key_column(customers, key_column);
    INSERT INTO @extschema@.referral_source AS s
        (customers, customer_key_column, referrals, referrer_column, referred_column, referred_at_column)
    VALUES (customers, key_column, referrals, referrer_column, referred_column, referred_at_column)
    ON CONFLICT ON CONSTRAINT referral_source_pkey DO UPDATE
       SET customer_key_column = excluded.customer_key_column, referrals = excluded.referrals,
           referrer_column = excluded.referrer_column, referred_column = excluded.referred_column,
           referred_at_column = excluded.referred_at_column, adopted_at = excluded.adopted_at
    RETURNING s.* INTO result;
    RETURN result;
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'table % is already adopted as the referrals of another customers table', referrals
            USING ERRCODE = 'duplicate_object',
                  DETAIL = (SELECT pg_catalog.format('It holds the referrals of %s.', s.customers)
                              FROM @extschema@.referral_source AS s WHERE s.referrals = adopt_referrals.referrals),
                  HINT = 'One referrals table serves one customers table.';
END
$fn$;
COMMENT ON FUNCTION @extschema@.adopt_referrals(regclass, regclass, name, name, name, name) IS
    'adopts the user''s referrals table (referrer, referred, referred-at columns) for a customers table, or changes its columns: loyal customers then become advocates through clm.stage_on_order and clm.refresh_stages under the policy''s advocate_min_referrals and advocate_window_days; only the customers table''s owner may';

-- release_referrals: the customers table no longer takes stages from its
-- referrals.  Stages already reached stay.
CREATE FUNCTION @extschema@.release_referrals(customers regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF customers IS NULL THEN
        RAISE EXCEPTION 'customers must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.referral_source AS s WHERE s.customers = release_referrals.customers) THEN
        RETURN false;
    END IF;
    IF NOT @extschema@._referral_source_owned(customers) THEN
        RAISE EXCEPTION 'must be owner of table %', customers
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Release referrals as the owner of the customers table, or as a member of that role.';
    END IF;
    DELETE FROM @extschema@.referral_source AS s WHERE s.customers = release_referrals.customers;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION @extschema@.release_referrals(regclass) IS
    'stops making advocates of a customers table from its referrals (the stages already reached stay); returns whether referrals had been adopted; only the customers table''s owner may';
