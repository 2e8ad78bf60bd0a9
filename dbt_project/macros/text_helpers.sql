{#- Hash of a complaint text, computed the same way as minqing.classifier does in SQL, so that
    ops.text_classifications joins on it. -#}
{% macro text_sha256(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{#- Free text may hold phone numbers a resident typed in ("请回电13812345678"): they are
    replaced by a marker before the text leaves the restricted raw schema. Digits on either side
    keep a number from matching inside a longer one (an order id, a date). -#}
{% macro redact_phones(expression) -%}
    regexp_replace(
        regexp_replace(
            {{ expression }},
            '(^|[^0-9])(\+?86[- ]?)?1[3-9][0-9]([- ]?[0-9]){8}($|[^0-9])', '\1[手机号已隐藏]\4', 'g'),
        '(^|[^0-9])0[0-9]{2,3}-?[0-9]{7,8}($|[^0-9])', '\1[电话已隐藏]\2', 'g')
{%- endmacro %}
