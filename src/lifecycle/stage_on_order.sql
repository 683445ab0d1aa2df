-- ---------------------------------------------------------------------------
-- Stages derived from orders
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.stage_on_order()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_on_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.stage_on_order() IS
    'AFTER INSERT FOR EACH ROW trigger on an orders table, arguments (customers table, order customer column, stage column, order time column [, policy [, customer key column]]): moves the customer to first_purchase / repeat / loyal / reactivated through clm.stage_guard';
