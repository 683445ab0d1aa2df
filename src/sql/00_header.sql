-- clm--1.0.sql: customer lifecycle management for PostgreSQL
--
-- Assembled by the Makefile from src/sql/*.sql.  Every object lives in the
-- schema clm (the control file fixes it; relocatable = false), and every
-- reference below is qualified with @extschema@ or pg_catalog, because the
-- search_path in effect during CREATE EXTENSION is not to be trusted.

\echo Use "CREATE EXTENSION clm" to load this file. \quit

-- CREATE EXTENSION creates the schema clm owned by the installing role;
-- everything in it is meant for every role of the database.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
