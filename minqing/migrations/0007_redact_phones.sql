-- 0007: the one definition of phone-number redaction in free text (util.redact_phones).
--
-- Residents type phone numbers into every free-text field ("请回电13812345678", "座机63456789",
-- "（010）63456789", "13912345678、13987654321", full-width "１３６…"). The staging models pass each
-- free-text column through this function (dbt macro redact_phones) before the text leaves the
-- restricted raw schema; anything in Python that needs redaction calls it too. The text is first
-- NFKC-normalised (full-width digits, brackets, spaces and dashes become ASCII), then:
--   1. mobiles, 1[3-9]x, 11 digits, 3-4-4 with optional space or dash separators, optionally after
--      +86 / 0086 / 86 / (+86) or a trunk 0                                   -> [手机号已隐藏]
--   2. landlines with an area code (010, 02x, 03xx-09xx; "010-", "010 ", "(010)", or +86 10 …)
--      and a 7-8 digit local number                                          -> [电话已隐藏]
--   3. 7-8 digit local numbers without an area code, only right after a phone cue word (电话, 座机,
--      手机, 联系, 固话, 号码, 致电, 拨打, 回电, 来电, tel, phone) or after a number already redacted
--      in the same list ("13812345678、63456789"), so that ordinary numbers stay  -> [电话已隐藏]
-- A number is matched only where no digit touches it on either side (look-arounds, which consume
-- nothing, so every number of a list "a、b/c" is redacted), so a number inside a longer digit run (an
-- order id GD2026071500001, a date 20260715, an id card number) is left alone; so are house numbers
-- (3号楼2单元502), dates (2026-07-15) and amounts, which never have the shape above.
--
-- Every phone shape has a run of 4 digits once normalised, so a text without one returns after the
-- normalisation; the cue pass, whose look-behind is the costly part, runs only when a cheap
-- look-behind-free form of it matches. PL/pgSQL keeps the intermediate text in a variable (a
-- language-sql body with sub-selects runs an executor per call, about 3 times slower).
--
-- Immutable and parallel safe (normalize and regexp_replace are), strict (null stays null).
-- Changing what is redacted means a new migration with `create or replace`, never an edit of this one.

create schema if not exists util;

-- The patterns are composed here once, from named parts, and written into the function as literals
-- (composing them inside the function would cost every call).
do $migration$
declare
    -- inside a number: an optional space or dash (hyphen, figure/en/em dashes, minus sign)
    sep        constant text := '[\s\u2010\u2012\u2013\u2014\u2015\u2212-]';
    -- a Chinese area code without its trunk 0: 10, 2x, 3xx-9xx
    area       constant text := '(?:10|2[0-9]|[3-9][0-9]{2})';
    -- a local number: 7 or 8 digits, the first 2-9, optionally split 3-4 or 4-4
    local_no   constant text := '[2-9][0-9]{2,3}' || sep || '?[0-9]{4}';
    -- a cue word and what may stand between it and the number (电话号码是：, tel: , 电话（座机）)
    cue        constant text := '(?:电话|座机|手机|联系|固话|号码|致电|拨打|回电|来电|(?:^|[^a-z])(?:tel|phone))'
                                 || '[\s:是为的号码()\[\]【】.,;、/-]{0,6}';
    -- a number already redacted, then a list separator (、 / , ; space 和 或 及)
    list_sep   constant text := '[\s、/,;和或及]{1,3}';
    redacted   constant text := '\[(?:手机号|电话)已隐藏\]' || list_sep;
    -- no digit may touch a number: before one that starts with a digit, after every one ("+86" and
    -- "(010)" are their own boundary, so "13812345678(010)63456789" is two numbers)
    mobile     constant text := '(?:\+86' || sep || '*|\(\+?86\)\s*|(?<![0-9])(?:(?:00)?86' || sep || '*|0)?)'
                                 || '1[3-9][0-9]' || sep || '?[0-9]{4}' || sep || '?[0-9]{4}(?![0-9])';
    landline   constant text := '(?:\(\s*0' || area || '\s*\)\s*|\+86' || sep || '*' || area || sep || '?'
                                 || '|(?<![0-9])(?:0' || area || sep || '?|0086' || sep || '*' || area || sep || '?))'
                                 || local_no || '(?![0-9])';
    -- the cue pass without its look-behind: cheap, tells whether the costly pass has work
    cued_any   constant text := '(?:' || cue || '|' || redacted || ')' || local_no || '(?![0-9])';
    -- a local number after a cue or a redacted number, possibly after other local numbers of the list
    cued_local constant text := '(?<=(?:' || cue || '|' || redacted || ')(?:' || local_no || list_sep || ')*)'
                                 || '(?<![0-9])' || local_no || '(?![0-9])';
begin
    execute format($create$
        create or replace function util.redact_phones(free_text text) returns text
        language plpgsql immutable strict parallel safe
        as $function$
        declare
            result text := normalize(free_text, NFKC);
        begin
            if result !~ '[0-9]{4}' then
                return result;
            end if;
            result := regexp_replace(result, %1$L, '[手机号已隐藏]', 'g');
            result := regexp_replace(result, %2$L, '[电话已隐藏]', 'g');
            if result ~* %3$L then
                result := regexp_replace(result, %4$L, '[电话已隐藏]', 'gi');
            end if;
            return result;
        end
        $function$
    $create$, mobile, landline, cued_any, cued_local);
end
$migration$;

comment on function util.redact_phones(text) is
    'Free text with the phone numbers in it replaced by [手机号已隐藏] / [电话已隐藏], after NFKC normalisation (migration 0007).';

-- The roles of 0004 use it (the staging views call it as the querying role); nobody else needs it.
revoke all on function util.redact_phones(text) from public;
grant usage on schema util to minqing_pipeline, bi_reader, street_center, community_staff;
grant execute on function util.redact_phones(text) to minqing_pipeline, bi_reader, street_center, community_staff;

-- Rows the incremental models built with the old, leaky expression may still hold phone numbers:
-- forgetting their settings' fingerprints makes the next build empty and rebuild them
-- (macros/incremental.sql, reset_when_settings_change).
delete from ops.incremental_settings;
