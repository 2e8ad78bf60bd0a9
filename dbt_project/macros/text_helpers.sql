{#- Hash of a complaint text, computed the same way as minqing.analytics.classifier does in SQL, so that
    ops.text_classifications joins on it. -#}
{% macro text_sha256(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{#- Free text may hold phone numbers a resident typed in ("请回电13812345678", "座机63456789"): they are
    replaced by a marker before the text leaves the restricted raw schema. The one definition is the
    SQL function util.redact_phones (migration 0007): NFKC first, then mobiles, landlines and cued
    local numbers, every number of a list, none inside a longer digit run. Hash the original text
    (text_sha256), never the redacted one. -#}
{% macro redact_phones(expression) -%}
    util.redact_phones({{ expression }})
{%- endmacro %}

{#- A record's complaint text: its text columns joined by one space, exactly as the channel's contract
    forms it for the classifier (ingestion/contracts/, Contract.text_sql; tests/unit checks that each
    staging model passes the contract's columns). -#}
{% macro complaint_text(columns, relation) -%}
    {%- if columns | length == 1 -%}
        {{ relation }}.{{ columns[0] }}
    {%- else -%}
        {%- for column in columns -%}
            coalesce({{ relation }}.{{ column }}, ''){% if not loop.last %} || ' ' || {% endif %}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The district and street prefixes an address or community field may begin with, as a regular
    expression literal: what is left names the community and the place within it. -#}
{% macro address_prefixes() -%}
    '^(北京市)?(丰台区)?({{ var("street_name") }})?'
{%- endmacro %}
