-- Steady-state purge: partitions leave the table by DETACH PARTITION … CONCURRENTLY, which cannot run in a
-- transaction. A note is written before the detach; the next run finishes whatever a kill interrupted.
-- bound: the partition's bound clause, to attach it back if a customer was put on hold meanwhile.
-- holds_checked: false until the drop transaction has checked the detached rows against the holds.
ALTER TABLE lethe.purge_detached
    ADD COLUMN bound text,
    ADD COLUMN holds_checked boolean NOT NULL DEFAULT true;
