-- simple_cache 1.0
\echo Use "CREATE EXTENSION simple_cache" to load this file. \quit
