-- 0005: the fingerprint of the key that pseudonymises personal data (MINQING_HASH_KEY).
--
-- One row: an HMAC of a fixed text under the key (never the key). Ingestion records it on first use
-- and refuses to load with another key, so that repeat-complainant keys made with two keys are never
-- mixed silently; `minqing rotate-hash-key` re-hashes raw with a new key and replaces it in the same
-- transaction.
create table ops.hash_key (
    singleton   boolean     primary key default true check (singleton),
    fingerprint text        not null,
    set_at      timestamptz not null default now()
);
grant select, insert, update on ops.hash_key to minqing_pipeline;
