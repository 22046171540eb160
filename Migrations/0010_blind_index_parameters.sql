-- The length of the blind index, recorded when it is first used. Every blind index and tombstone in the database
-- was computed with it: a policy asking for another length would find nobody (an erasure would erase nothing and
-- say so with exit 0), so keyed commands refuse it.
CREATE TABLE lethe.blind_index_parameters (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    bits        integer NOT NULL CHECK (bits BETWEEN 8 AND 256),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
