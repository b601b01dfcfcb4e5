{#- A string of `digits` hexadecimal characters (either case) as a non-negative integer.

    Every engine spells it differently, hence the dispatch; the default is plain SQL (each
    character's place in '0123456789abcdef' times its power of 16) and runs anywhere, so the
    engine-specific versions must agree with it (tests/assert_audience_hash_fraction_vectors.sql).
    Up to 15 digits fit a bigint. -#}
{% macro hex_to_int(hex_text, digits) -%}
    {%- if digits > 15 -%}
        {{ exceptions.raise_compiler_error("hex_to_int: at most 15 hex digits fit a bigint") }}
    {%- endif -%}
    {{ return(adapter.dispatch("hex_to_int", "retention")(hex_text, digits)) }}
{%- endmacro %}

{% macro default__hex_to_int(hex_text, digits) -%}
    (
        {%- for place in range(digits) %}
        cast({{ dbt.position(
            "substr(lower(" ~ hex_text ~ "), " ~ (place + 1) ~ ", 1)", "'0123456789abcdef'"
        ) }} - 1 as {{ dbt.type_bigint() }}) * {{ 16 ** (digits - 1 - place) }}
        {{- " +" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__hex_to_int(hex_text, digits) -%}
    cast('0x' || ({{ hex_text }}) as bigint)
{%- endmacro %}

{% macro postgres__hex_to_int(hex_text, digits) -%}
    cast(cast('x' || lpad({{ hex_text }}, 16, '0') as bit(64)) as bigint)
{%- endmacro %}

{% macro spark__hex_to_int(hex_text, digits) -%}
    cast(conv({{ hex_text }}, 16, 10) as bigint)
{%- endmacro %}
