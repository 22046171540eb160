-- `lethe keys reindex --bits N`: while it rewrites every blind index, reindex_to holds N and every other keyed
-- command refuses to run (exit 75), so no lookup mixes two lengths and no erasure "finds nobody" half-way.
ALTER TABLE lethe.blind_index_parameters ADD COLUMN reindex_to integer CHECK (reindex_to BETWEEN 8 AND 256);
