-- clm--1.0--1.1.sql: update clm from 1.0 to 1.1 (ALTER EXTENSION clm UPDATE).
--
-- Every SQL change made for 1.1 goes both into its source under src/ (which
-- builds the install script clm--1.1.sql) and here, so that a database on
-- 1.0 ends with the same catalog as a fresh install of 1.1 (test/t/070
-- compares the two).  1.1 has no SQL change yet.

\echo Use "ALTER EXTENSION clm UPDATE TO '1.1'" to load this file. \quit
