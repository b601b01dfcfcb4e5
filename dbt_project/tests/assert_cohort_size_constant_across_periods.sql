-- A cohort is fixed at acquisition: every month of a cohort reports the same cohort size.
select
    cohort_month,
    count(distinct cohort_size) as distinct_sizes
from {{ ref('customer_cohort_retention') }}
group by cohort_month
having count(distinct cohort_size) <> 1
