-- ---------------------------------------------------------------------------
-- Stage history: transition matrix and funnel
-- ---------------------------------------------------------------------------

-- _relation_label: the quoted, schema-qualified name of a relation, the
-- form in which clm keeps a table's name as text (customer view registry).
CREATE FUNCTION @extschema@._relation_label(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = rel);
COMMENT ON FUNCTION @extschema@._relation_label(regclass) IS
    'internal: the quoted, schema-qualified name of a relation';

-- _check_window: since/until bound a half-open window; NULL means open on
-- that side, but an empty or inverted window is almost surely a mistake.
CREATE FUNCTION @extschema@._check_window(since timestamptz, until timestamptz)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF since IS NOT NULL AND until IS NOT NULL AND since >= until THEN
        RAISE EXCEPTION 'since must be earlier than until'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The window given was [' || since::text || ', ' || until::text || ').',
                  HINT = 'The window is half-open: since is included, until is not.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION @extschema@._check_window(timestamptz, timestamptz) IS
    'internal: raises an error when since is not earlier than until';

-- The two functions reading clm.stage_history are PARALLEL UNSAFE like its
-- read policy (clm.stage_history_visible), which they run for a reader.

-- stage_transition_matrix: how customers move between stages, estimated
-- from the recorded changes (the jump chain of the lifecycle: each change
-- is one transition, p(i, j) = n(i, j) / n(i)).  Rows for every from-stage
-- that has transitions cover all ten to-stages, zero cells included, so a
-- BI pivot shows a complete matrix whose rows sum to 1.  from_stage NULL is
-- the entry row: the first stage customers were given.
CREATE FUNCTION @extschema@.stage_transition_matrix(
    since timestamptz,
    until timestamptz,
    relation regclass DEFAULT NULL)
RETURNS TABLE(from_stage @extschema@.lifecycle_stage, to_stage @extschema@.lifecycle_stage,
              transitions bigint, probability double precision)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel oid := relation;
BEGIN
    PERFORM @extschema@._check_window(since, until);
    RETURN QUERY
    WITH h AS (
        SELECT sh.from_stage AS f, sh.to_stage AS t
          FROM @extschema@.stage_history AS sh
         WHERE (since IS NULL OR sh.changed_at >= since)
           AND (until IS NULL OR sh.changed_at < until)
           AND (rel IS NULL OR sh.relation = rel)
    ), cnt AS (
        SELECT h.f, h.t, pg_catalog.count(*) AS n FROM h GROUP BY h.f, h.t
    ), tot AS (
        SELECT cnt.f, pg_catalog.sum(cnt.n)::bigint AS n FROM cnt GROUP BY cnt.f
    )
    SELECT tot.f, s.s, COALESCE(cnt.n, 0), COALESCE(cnt.n, 0)::double precision / tot.n
      FROM tot
     CROSS JOIN pg_catalog.unnest(pg_catalog.enum_range(NULL::@extschema@.lifecycle_stage)) AS s(s)
      LEFT JOIN cnt ON cnt.f IS NOT DISTINCT FROM tot.f AND cnt.t = s.s
     ORDER BY tot.f NULLS FIRST, s.s;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_transition_matrix(timestamptz, timestamptz, regclass) IS
    'stage transition counts and row-normalised probabilities from clm.stage_history changes in [since, until) (NULL = unbounded), optionally for one customers table; from_stage NULL = first stage assigned';

-- stage_funnel: the question "of the customers who got this far, how many
-- got further, and how long did they stay" over an ordered list of stages.
-- A customer reaches step i when, within the window, they entered stage i
-- or any later stage of the list (skipping a stage does not drop them out
-- of the funnel), so counts never grow from step to step.  Time in stage is
-- measured on completed stays only: entered in the window and left (any
-- later change of the same customer) before until.
CREATE FUNCTION @extschema@.stage_funnel(
    since timestamptz,
    until timestamptz,
    stages @extschema@.lifecycle_stage[] DEFAULT ARRAY['prospect', 'lead', 'first_purchase', 'repeat', 'loyal', 'advocate']::@extschema@.lifecycle_stage[],
    relation regclass DEFAULT NULL)
RETURNS TABLE(step integer, stage @extschema@.lifecycle_stage, customers bigint,
              conversion_rate double precision, overall_rate double precision,
              median_days_in_stage double precision, completed_stays bigint)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel oid := relation;
BEGIN
    PERFORM @extschema@._check_window(since, until);
    IF stages IS NULL OR pg_catalog.cardinality(stages) = 0 THEN
        RAISE EXCEPTION 'stages must list at least one stage'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(stages, NULL) IS NOT NULL
       OR (SELECT pg_catalog.count(DISTINCT u) FROM pg_catalog.unnest(stages) AS u) <> pg_catalog.cardinality(stages) THEN
        RAISE EXCEPTION 'stages must not contain nulls or repeated stages'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The list given was ' || stages::text || '.';
    END IF;

    RETURN QUERY
    WITH pos AS (
        SELECT u.s, u.i::integer AS i
          FROM pg_catalog.unnest(stages) WITH ORDINALITY AS u(s, i)
    ), h AS (
        SELECT sh.relation AS r, sh.customer_key AS k, sh.to_stage AS t, sh.changed_at AS at,
               pg_catalog.lead(sh.changed_at) OVER (PARTITION BY sh.relation, sh.customer_key
                                                    ORDER BY sh.changed_at, sh.id) AS left_at
          FROM @extschema@.stage_history AS sh
         WHERE (rel IS NULL OR sh.relation = rel)
           AND (until IS NULL OR sh.changed_at < until)
    ), w AS (
        SELECT h.* FROM h WHERE since IS NULL OR h.at >= since
    ), reach AS (      -- the furthest step each customer reached in the window
        SELECT w.r, w.k, pg_catalog.max(pos.i) AS i
          FROM w JOIN pos ON pos.s = w.t
         GROUP BY w.r, w.k
    ), cnt AS (
        SELECT pos.i, pos.s,
               (SELECT pg_catalog.count(*) FROM reach WHERE reach.i >= pos.i) AS n
          FROM pos
    ), stay AS (
        SELECT pos.i,
               pg_catalog.percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY pg_catalog.date_part('epoch', w.left_at - w.at) / 86400) AS med,
               pg_catalog.count(*) AS n
          FROM w JOIN pos ON pos.s = w.t
         WHERE w.left_at IS NOT NULL
         GROUP BY pos.i
    )
    SELECT cnt.i, cnt.s, cnt.n,
           CASE WHEN cnt.i > 1 AND prev.n > 0 THEN cnt.n::double precision / prev.n END,
           CASE WHEN first.n > 0 THEN cnt.n::double precision / first.n END,
           stay.med,
           COALESCE(stay.n, 0)
      FROM cnt
      LEFT JOIN cnt AS prev ON prev.i = cnt.i - 1
      JOIN cnt AS first ON first.i = 1
      LEFT JOIN stay ON stay.i = cnt.i
     ORDER BY cnt.i;
END
$fn$;
COMMENT ON FUNCTION @extschema@.stage_funnel(timestamptz, timestamptz, @extschema@.lifecycle_stage[], regclass) IS
    'stage funnel from clm.stage_history in [since, until): customers reaching each listed stage (or a later one), conversion from the previous step and from the first, median days in stage over completed stays';
