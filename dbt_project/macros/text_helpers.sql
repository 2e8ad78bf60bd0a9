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
    expression (a scalar subquery: the names of reference/streets.csv, its districts and its streets): what is
    left names the community and the place within it. Full names only: 六里桥 alone begins 六里桥村. -#}
{% macro address_prefixes() -%}
    (select '^(北京市)?(' || coalesce(string_agg(distinct streets.district_name, '|'), '') || ')?('
            || coalesce(string_agg(distinct streets.street_name, '|'), '') || ')?'
     from {{ ref('streets') }} as streets)
{%- endmacro %}

{#- Room numbers in free text (the 502 of 3号楼2单元502, 楼上602, 502室) replaced by *** for what leaves the
    warehouse for the public (rpt_open311_requests, issue 21): a run of three or four digits that no
    measure or date follows (年, 元, 米, 次, 天, 小时, % …) and that is not part of a longer number. Buildings
    (3号楼) and units keep their numbers: an address is public down to its building. -#}
{% macro redact_rooms(expression) -%}
    regexp_replace({{ expression }},
        '(^|[^0-9])[0-9]{3,4}(?![0-9]|年|元|块|毛|米|平|度|℃|路|线|次|个|天|日|月|周|小时|分|秒|%|％|万|千|百|斤|公斤|公里|多|余|号楼|栋|幢|岁|人|户|辆|台|件|条|张)',
        '\1***', 'g')
{%- endmacro %}

{#- A person named in free text the way hotline operators and reception logs write them — a surname and an
    honorific (蔡女士, 冯师傅, 张大爷) — becomes 某女士, 某师傅 for what leaves the warehouse for the public
    (rpt_open311_requests, issue 21). The surnames are the hundred commonest; a trade before the honorific
    (维修师傅, 物业师傅) is no surname and stays. -#}
{% macro redact_names(expression) -%}
    regexp_replace({{ expression }},
        '[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤](先生|女士|小姐|阿姨|大爷|大妈|大姐|大哥|师傅|奶奶|爷爷|老师)',
        '某\1', 'g')
{%- endmacro %}
