-- One row per distinct resident demand (诉求), in its newest state, from every channel.
-- Bill payments and renovation applications of the mini-program are not demands and are left out.
--
-- Incremental: a build rebuilds the complaints whose records came in files loaded since the last one,
-- those still open (is_overdue moves with the as-of moment), those whose text was classified since
-- (a new classifier version reclassifies every text) and those a person labelled since (`minqing
-- review import`); every other row stays as it was. A change of the seeds or vars the chain reads,
-- or of the hashing key, empties the table first and the build rebuilds every row
-- (macros/incremental.sql); `dbt build --full-refresh` does the same. A table built before a column
-- of the watermarks existed (category_reviewed_at), or before street_id, is rebuilt whole once, its new columns filled.
-- Its triggers note the days of the rows each build deletes and inserts, for the daily aggregates
-- (macros/daily_scope.sql). The complaints a build rebuilds are gathered first into an analysed temporary
-- table (macros/incremental.sql: analysed_temp_table), so that the planner reaches them through the index.
{%- set seeds = ['status_codes', 'source_values', 'reception_methods', 'community_aliases', 'issue_categories', 'time_limits', 'hotline_category_map', 'communities', 'streets', 'street_aliases'] %}
{%- set setting_vars = ['rating_resolved_min', 'rating_satisfied_min', 'rating_basically_satisfied_min', 'complaint_logic_version'] %}
{{ config(
    materialized='incremental',
    unique_key='complaint_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['source_file_id']},
        {'columns': ['category_classified_at']},
        {'columns': ['category_reviewed_at']},
        {'columns': ['received_date']},
    ],
    pre_hook=[
        "{{ reset_when_settings_change(" ~ seeds ~ ", " ~ setting_vars ~ ") }}",
        "{{ drop_no_longer_demands() }}",
    ],
    post_hook=["{{ remember_settings(" ~ seeds ~ ", " ~ setting_vars ~ ") }}", "{{ note_complaint_days() }}",
               "{{ ensure_primary_key('complaint_id') }}",
               "{{ ensure_index(['dispatched_at']) }}",
               "{{ ensure_index(['built_at']) }}",
               "{{ ensure_index(['address_key', 'category_code', 'received_at']) }}",
               "{{ ensure_index(['community_id', 'category_code', 'received_at']) }}",
               "{{ ensure_index(['community_id', 'category_code'], where='closed_at is null') }}",
               "{{ ensure_index(['received_at', 'complaint_id'], where=\"category_needs_review and category_source = 'model'\") }}"],
) }}
-- depends_on: {{ ref('int_complaints__latest') }}, {{ ref('communities') }}, {{ ref('streets') }}, {{ ref('street_aliases') }}, {{ ref('stg_ops__text_classifications') }}, {{ ref('stg_ops__classification_reviews') }}, {{ ref('status_codes') }}, {{ ref('source_values') }}, {{ ref('reception_methods') }}, {{ ref('community_aliases') }}, {{ ref('issue_categories') }}, {{ ref('time_limits') }}, {{ ref('hotline_category_map') }}
{%- set incremental = is_incremental() and not settings_changed(seeds, setting_vars)
                     and not lacks_columns(['category_classified_at', 'category_reviewed_at', 'street_id']) %}
with

{% if incremental %}
{%- set scope_sql %}
    select complaint_id
    from {{ ref('int_complaints__latest') }}
    where source_file_id > {{ watermark('source_file_id', '0') }}::bigint
    union
    select complaint_id
    from {{ this }}
    where closed_at is null and status is distinct from 'cancelled'
    union
    select latest.complaint_id
    from {{ ref('int_complaints__latest') }} as latest
    join {{ ref('stg_ops__text_classifications') }} as classifications using (text_sha256)
    where classifications.classified_at > {{ watermark('category_classified_at', "'-infinity'") }}::timestamptz
    union
    select complaint_id
    from {{ ref('stg_ops__classification_reviews') }}
    where reviewed_at > {{ watermark('category_reviewed_at', "'-infinity'") }}::timestamptz
{% endset %}
{%- set scope = analysed_temp_table('fct_complaints__scope', scope_sql) %}
{% endif %}

complaints as (
    select * from {{ ref('int_complaints__categorised') }}
    where is_resident_demand
    {% if incremental %}
      and complaint_id in (select complaint_id from {{ scope }})
    {% endif %}
)

select
    complaint_id,
    source_channel,
    source_record_id,
    received_at,
    {{ bj_date('received_at') }} as received_date,
    street_id,
    community_id,
    community_resolved_from,
    category_code,
    category_source,
    model_category_code,
    category_confidence::numeric(4, 3) as category_confidence,
    category_evidence,
    category_candidates,
    category_needs_review,
    category_reviewed_by,
    category_reviewed_at,
    hotline_category_path,
    hotline_category_code,
    demand_type,
    status,
    is_proactive,
    proactive_method,
    suggested_handling_unit,
    handling_unit_reported,
    due_at,
    dispatched_at,
    accepted_at,
    responded_at,
    closed_at,
    case
        when closed_at is not null then closed_at > due_at
        when status = 'cancelled' then false
        else {{ as_of() }} > due_at
    end as is_overdue,
    version_count,
    is_resolved as resolved,
    satisfaction,
    complainant_key,
    complainant_phone_masked,
    address_key,
    complaint_text,
    text_sha256,
    version_updated_at as last_updated_at,
    source_file_id,
    category_classified_at,
    {{ built_at() }} as built_at
from complaints
