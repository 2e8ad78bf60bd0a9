-- 0009: the learned classifier's extra output, and people's labels (issue 14).
--
-- ops.text_classifications gains, per text:
--   candidates    the three most probable codes, most probable first:
--                 [{"category_code": "drainage", "probability": 0.71}, ...] (probabilities calibrated);
--   needs_review  true when the best probability is below classifier.review_below (settings.yml):
--                 the text keeps its best code, flagged as unsure.
-- Rows written before this migration were made by the keyword rules alone; the new classifier
-- version reclassifies them on the next run, so the defaults below are never read as a verdict.
--
-- ops.classification_reviews: every label a person gave a complaint (`minqing review import`),
--   never updated or deleted: the newest per complaint_id is the complaint's category from the next
--   build on, everywhere downstream. previous_category_code is the code the complaint had when the
--   person labelled it (the model's, or an earlier person's); text_sha256 ties the label to the text
--   it was given for, and makes the labelled texts training data for `minqing classifier train`.

alter table ops.text_classifications
    add column candidates jsonb not null default '[]'::jsonb,
    add column needs_review boolean not null default false;

create table ops.classification_reviews (
    review_id              bigserial primary key,
    complaint_id           text        not null,
    text_sha256            text        not null,
    category_code          text        not null,
    previous_category_code text,
    reviewed_by            text        not null check (btrim(reviewed_by) <> ''),
    reviewed_at            timestamptz not null default now(),
    source_file            text,                    -- the imported file's name and SHA-256
    imported_at            timestamptz not null default now()
);

create index classification_reviews_complaint on ops.classification_reviews (complaint_id, review_id desc);

grant select, insert, update, delete on ops.text_classifications to minqing_pipeline;
grant select, insert on ops.classification_reviews to minqing_pipeline;
grant usage, select on sequence ops.classification_reviews_review_id_seq to minqing_pipeline;
