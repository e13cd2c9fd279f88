-- The statements of connecting and migrating (pipeline/src/db.rs), which declares them with
-- `stages::statements!`.

-- name: create_database_statement
-- `CREATE DATABASE` for the name $1, quoted by PostgreSQL's own format('%I'): an identifier cannot
-- be a bind parameter, and CREATE DATABASE cannot run inside the DO block that would build it.
SELECT format('CREATE DATABASE %I', $1::text);

-- name: lock_migrations
-- One process migrates at a time: $1 the lock class of migrations.
SELECT pg_advisory_lock($1, 0);

-- name: unlock_migrations
-- $1 the lock class of migrations.
SELECT pg_advisory_unlock($1, 0);
