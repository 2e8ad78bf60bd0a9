-- People's labels (人工复核, `minqing review import`; ops.classification_reviews), one row per label
-- given; the newest per complaint wins downstream. A plain view, merged by Postgres into its readers.
with

source as (
    select * from {{ source('ops', 'classification_reviews') }}
)

select * from source
