-- The holdout hash gives the same numbers on every engine: md5 of known inputs, first 8 hex
-- digits as an integer (computed with Python's hashlib), and the hex → integer conversion of
-- this engine agrees with the portable default one, upper case included.
with

vectors as (
    select
        'C0000001|at_risk|default' as hash_input,
        3985763419 as expected_integer
    union all
    select
        'C0000003|at_risk|default' as hash_input,
        97520340 as expected_integer
    union all
    select
        'C0000042|win_back|default' as hash_input,
        3784570829 as expected_integer
    union all
    select
        'C0002001|contact_overdue|spring-2026' as hash_input,
        2567623175 as expected_integer
),

hex_vectors as (
    select
        '00000000' as hex_text,
        0 as expected_integer
    union all
    select
        'ffffffff' as hex_text,
        4294967295 as expected_integer
    union all
    select
        '0A1B2C3D' as hex_text,
        169552957 as expected_integer
),

checked as (
    select
        hash_input as checked_value,
        expected_integer,
        {{ hex_to_int("substr(" ~ dbt.hash("hash_input") ~ ", 1, 8)", 8) }} as engine_integer,
        {{ default__hex_to_int("substr(" ~ dbt.hash("hash_input") ~ ", 1, 8)", 8) }}
            as portable_integer,
        {{ hash_fraction("hash_input") }} as fraction
    from vectors
    union all
    select
        hex_text as checked_value,
        expected_integer,
        {{ hex_to_int("hex_text", 8) }} as engine_integer,
        {{ default__hex_to_int("hex_text", 8) }} as portable_integer,
        {{ hex_to_int("hex_text", 8) }} / 4294967296.0 as fraction
    from hex_vectors
)

select *
from checked
where
    engine_integer <> expected_integer
    or portable_integer <> expected_integer
    or abs(fraction - expected_integer / 4294967296.0) > 1e-12
    or fraction < 0
    or fraction >= 1
