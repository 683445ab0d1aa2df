-- clm: customer lifecycle management for PostgreSQL
--
-- The install script is built by the Makefile from the SQL sources of each
-- area (src/<area>/*.sql), in the order given there: lifecycle, RFM, CLV,
-- analytics.  Every object lives in the schema clm (the control file fixes
-- it; relocatable = false), and every reference is qualified with
-- @extschema@ or pg_catalog, because the search_path in effect during
-- CREATE EXTENSION is not to be trusted.

\echo Use "CREATE EXTENSION clm" to load this file. \quit

-- CREATE EXTENSION creates the schema clm owned by the installing role;
-- everything in it is meant for every role of the database.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
