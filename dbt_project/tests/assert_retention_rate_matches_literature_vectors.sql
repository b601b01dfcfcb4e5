-- The retention-rate formula reproduces the worked examples of the retention literature
-- (seed `retention_rate_vectors`): 20 at start, 5 new, 1 lost, 24 at end → 95%.
with

vectors as (
    select * from {{ ref('retention_rate_vectors') }}
),

checked as (
    select
        vectors.*,
        {{ retention_rate("customers_at_end", "new_customers", "customers_at_start") }}
            as computed_retention_rate_pct
    from vectors
)

select *
from checked
where
    computed_retention_rate_pct <> expected_retention_rate_pct
    or customers_at_start + new_customers - lost_customers <> customers_at_end
