-- Issue 17: SQLite keeps job counts by triggers (see the SQLite twin). Postgres keeps counting
-- with COUNT(*): counter rows updated by concurrent writers (the jobs poller, the event
-- consumer) would serialise them and can deadlock. This twin keeps the versions in step.
SELECT 1;
