--
-- aggregate_support_context: every aggregate support function of clm,
-- called directly instead of by an aggregate, raises the same error (one
-- SQLSTATE, one message naming the function, one detail and hint)
--
\set VERBOSITY default
CREATE SCHEMA agg_support_test;
SET search_path = agg_support_test, public;

-- the support functions that SQL can call as they are: the error as psql
-- shows it
SELECT clm.rfm_trans(NULL::clm.rfm_state, now(), 1::numeric, now());
\echo sqlstate :SQLSTATE

-- Those taking internal arguments cannot be called from SQL at all; aliases
-- of the same C functions with bigint in place of internal stand in for
-- them here (they take NULL and must fail before reading it).
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM (VALUES
        ('rfm_mtrans', 'bigint, timestamptz, numeric, timestamptz', 'bigint', 'rfm_mtrans_numeric'),
        ('rfm_minv', 'bigint, timestamptz, numeric, timestamptz', 'bigint', 'rfm_minv_numeric'),
        ('rfm_customers_trans', 'bigint, bigint, timestamptz, numeric, timestamptz', 'bigint', 'rfm_customers_trans_numeric'),
        ('rfm_customers_combine', 'bigint, bigint', 'bigint', 'rfm_customers_combine'),
        ('rfm_customers_serialize', 'bigint', 'bytea', 'rfm_customers_serialize'),
        ('rfm_customers_deserialize', 'bytea, bigint', 'bigint', 'rfm_customers_deserialize'),
        ('rfm_thresholds_trans', 'bigint, clm.rfm', 'bigint', 'rfm_thresholds_trans'),
        ('rfm_thresholds_combine', 'bigint, bigint', 'bigint', 'rfm_thresholds_combine'),
        ('rfm_thresholds_serialize', 'bigint', 'bytea', 'rfm_thresholds_serialize'),
        ('rfm_thresholds_deserialize', 'bytea, bigint', 'bigint', 'rfm_thresholds_deserialize'),
        ('purchase_summary_transfn', 'bigint, timestamptz, numeric, timestamptz, interval', 'bigint', 'clm_purchase_summary_transfn'),
        ('purchase_summary_combine', 'bigint, bigint', 'bigint', 'clm_purchase_summary_combine'),
        ('purchase_summary_serial', 'bigint', 'bytea', 'clm_purchase_summary_serial'),
        ('purchase_summary_deserial', 'bytea, bigint', 'bigint', 'clm_purchase_summary_deserial'),
        ('purchase_summary_final', 'bigint', 'clm.btyd_summary', 'clm_purchase_summary_final'))
        v(name, args, result, symbol)
    LOOP
        EXECUTE format('CREATE FUNCTION agg_support_test.%I(%s) RETURNS %s AS %L, %L LANGUAGE C',
                       f.name, f.args, f.result, '$libdir/clm', f.symbol);
    END LOOP;
END
$$;

-- run a call and return its error
CREATE FUNCTION error_of(call text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'SELECT ' || call;
    code := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

CREATE TABLE calls (n serial, call text);
INSERT INTO calls (call) VALUES
    -- clm.rfm_agg, clm.rfm_state_agg, clm.rfm_merge
    ($$clm.rfm_trans(NULL::clm.rfm_state, now(), 1::numeric, now())$$),
    ($$clm.rfm_trans(NULL::clm.rfm_state, now(), 1::float8, now())$$),
    ($$clm.rfm_trans(NULL::clm.rfm_state, now(), 1::bigint, now())$$),
    ($$clm.rfm_state_trans(NULL::clm.rfm_state, now(), 1::numeric)$$),
    ($$clm.rfm_state_trans(NULL::clm.rfm_state, now(), 1::float8)$$),
    ($$clm.rfm_state_trans(NULL::clm.rfm_state, now(), 1::bigint)$$),
    ($$clm.rfm_combine(NULL::clm.rfm_state, NULL::clm.rfm_state)$$),
    -- clm.rfm_agg over a window frame
    ($$rfm_mtrans(NULL, now(), 1::numeric, now())$$),
    ($$rfm_minv(NULL, now(), 1::numeric, now())$$),
    -- clm.rfm_agg_by_customer
    ($$rfm_customers_trans(NULL, 1, now(), 1::numeric, now())$$),
    ($$rfm_customers_combine(NULL, NULL)$$),
    ($$rfm_customers_serialize(NULL)$$),
    ($$rfm_customers_deserialize(NULL, NULL)$$),
    -- clm.rfm_thresholds, clm.rfm_thresholds_state_agg
    ($$clm.rfm_thresholds_trans(NULL::clm.rfm_thresholds_state, NULL::clm.rfm)$$),
    ($$clm.rfm_thresholds_trans(NULL::clm.rfm_thresholds_state, NULL::clm.rfm, 5)$$),
    -- clm.rfm_thresholds of a database still on the 1.0 catalog
    ($$rfm_thresholds_trans(NULL, NULL)$$),
    ($$rfm_thresholds_combine(NULL, NULL)$$),
    ($$rfm_thresholds_serialize(NULL)$$),
    ($$rfm_thresholds_deserialize(NULL, NULL)$$),
    -- clm.bgnbd_fit, clm.paretonbd_fit, clm.gamma_gamma_fit
    ($$clm.btyd_fit_trans(NULL::clm.btyd_fit_state, 1, 1, 2)$$),
    ($$clm.spend_fit_trans(NULL::clm.btyd_fit_state, 1, 10)$$),
    ($$clm.btyd_fit_combine(NULL::clm.btyd_fit_state, NULL::clm.btyd_fit_state)$$),
    -- clm.purchase_summary, clm.purchase_summary_state_agg
    ($$clm.purchase_summary_trans(NULL::clm.purchase_summary_state, now(), 1::numeric, now(), interval '1 day')$$),
    -- clm.purchase_summary of a database still on the 1.0 catalog
    ($$purchase_summary_transfn(NULL, now(), 1::numeric, now(), interval '1 day')$$),
    ($$purchase_summary_combine(NULL, NULL)$$),
    ($$purchase_summary_serial(NULL)$$),
    ($$purchase_summary_deserial(NULL, NULL)$$),
    ($$purchase_summary_final(NULL)$$);

-- each call's error: the message names the function that was called
SELECT n, e.code, e.message
FROM calls, error_of(call) e ORDER BY n;

-- and apart from that name they are one error
SELECT count(*) AS calls,
       count(DISTINCT (e.code, regexp_replace(e.message, '^\S+ ', '<function> '), e.detail, e.hint)) AS distinct_errors,
       min(e.code) AS sqlstate,
       min(regexp_replace(e.message, '^\S+ ', '<function> ')) AS message,
       min(e.detail) AS detail,
       min(e.hint) AS hint
FROM calls, error_of(call) e;

RESET search_path;
DROP SCHEMA agg_support_test CASCADE;
