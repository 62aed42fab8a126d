-- Nothing changes on SQLite: there scan results keep their foreign key to their scan, whose
-- check costs no round of SQL per row. (On PostgreSQL migration 0036 replaces the key with a
-- trigger.) Kept so that both engines' migrations carry the same numbers and names.
SELECT 1;
