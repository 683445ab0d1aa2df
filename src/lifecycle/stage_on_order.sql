-- ---------------------------------------------------------------------------
-- Stages derived from orders
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_on_order()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_on_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_on_order() IS
    'AFTER INSERT trigger on an orders table, FOR EACH ROW or, for bulk loads, FOR EACH STATEMENT with REFERENCING NEW TABLE; arguments (customers table, order customer column, stage column, order time column [, policy [, customer key column]]): moves the customer to first_purchase / repeat / loyal / reactivated through clm.stage_guard';

-- _orders_customers: the customers tables an orders relation's
-- clm.stage_on_order triggers name, resolved as the triggers resolve them;
-- clm.forget_customer finds a customers table's customer views by it.
CREATE FUNCTION @extschema@._orders_customers(orders regclass)
RETURNS regclass[]
AS 'MODULE_PATHNAME', 'clm_orders_customers'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._orders_customers(regclass) IS
    'internal: the customers tables that the clm.stage_on_order triggers on an orders relation name, resolved as the triggers resolve them (names that resolve to no table left out)';

-- A stage_on_order trigger names a policy that must exist as long as the
-- trigger does (clm.lifecycle_policy_protect_in_use refuses deleting it).
-- When such a trigger is created, its policy's row is locked until the
-- trigger commits, so that a concurrent deletion, which cannot see the
-- uncommitted trigger, waits and then sees it; a trigger naming no policy
-- gets a warning.  No SET search_path: the function resolves the statement's
-- table name as CREATE TRIGGER did.
CREATE FUNCTION @extschema@.lifecycle_policy_claim()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'clm_lifecycle_policy_claim'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.lifecycle_policy_claim() IS
    'event trigger function: a clm.stage_on_order trigger being created locks the row of the lifecycle policy it names until it commits, and warns if that policy does not exist';
CREATE EVENT TRIGGER clm_lifecycle_policy_claim ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION @extschema@.lifecycle_policy_claim();
COMMENT ON EVENT TRIGGER clm_lifecycle_policy_claim IS
    'a clm.stage_on_order trigger being created keeps the lifecycle policy it names from being deleted until it commits (clm.lifecycle_policy_claim)';
