{#- Helpers of the delivery status (mart_delivery_status) and the briefing's data notices. -#}

{#- A day as the briefing writes it (7月16日), a month (2026年7月), a moment (7月17日 06:00), in Beijing time. -#}
{% macro cn_day(day) -%}
    to_char(({{ day }})::date, 'FMMM"月"FMDD"日"')
{%- endmacro %}

{% macro cn_month(day) -%}
    to_char(({{ day }})::date, 'YYYY"年"FMMM"月"')
{%- endmacro %}

{% macro cn_moment(ts) -%}
    to_char({{ bj_local(ts) }}, 'FMMM"月"FMDD"日" HH24:MI')
{%- endmacro %}

{#- The period a delivery covers, as the briefing writes it: the day of a daily delivery, the month
    of a monthly one. -#}
{% macro delivery_period_zh(cadence, period_start) -%}
    case {{ cadence }} when 'monthly' then {{ cn_month(period_start) }} || '登记表' else {{ cn_day(period_start) }} end
{%- endmacro %}

{#- One line a person acts on, for a delivery that is not simply in:
        12345热线 7月16日 数据未到（应于7月17日 06:00前送达）
    `subject` names the channel (and communities), `status_zh` comes from seeds/briefing_labels.csv
    (kind delivery_status). -#}
{% macro delivery_notice(subject, status, status_zh, cadence, period_start, due_at, landed_at, held_reason) -%}
    {{ subject }} || ' ' || {{ delivery_period_zh(cadence, period_start) }} || ' ' || {{ status_zh }}
    || case {{ status }}
           when 'missing' then '（应于' || {{ cn_moment(due_at) }} || '前送达）'
           when 'pending' then '（应于' || {{ cn_moment(due_at) }} || '前送达）'
           when 'late' then '（' || {{ cn_moment(landed_at) }} || '送达，应于' || {{ cn_moment(due_at) }} || '前）'
           when 'held' then '（' || left(coalesce({{ held_reason }}, ''), 80) || '；见 minqing held list）'
           else ''
       end
{%- endmacro %}

{#- dbt source freshness of a raw table, from reference/expected_deliveries.csv: the moment one day
    before the next delivery of the channel falls due (the most overdue of its deliveries decides),
    so that with warn_after 1 day a source warns once any of its deliveries is past due, and with
    error_after 3 days errors two days later. A delivery that never came is due from the first day
    after the files in the warehouse begin. -#}
{% macro next_delivery_due_less_a_day(channel) -%}
    select min(next_due) - interval '1 day'
    from (
        select
            ((case expected.cadence
                  when 'monthly' then (date_trunc('month', coalesce(max(files.covers_to), min(first.first_day)))
                                       + interval '2 month' - interval '1 day')::date
                  else coalesce(max(files.covers_to), min(first.first_day)) + 1
              end + expected.due_days_after)::timestamp + cast(expected.due_time as interval))
             at time zone '{{ var("time_zone") }}' as next_due
        from reference.expected_deliveries as expected  -- the seed (a source's freshness query cannot ref)
        cross join (select min(covers_from) - 1 as first_day from {{ source('ops', 'ingested_files') }}) as first
        left join {{ source('ops', 'ingested_files') }} as files
            on files.channel = expected.channel and files.path like expected.path_like and files.status <> 'quarantined'
        where expected.channel = '{{ channel }}'
        group by expected.delivery_id, expected.cadence, expected.due_days_after, expected.due_time
    ) as deliveries
{%- endmacro %}
