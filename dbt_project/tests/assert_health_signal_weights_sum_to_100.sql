-- The at-risk score is documented as 0–100: the signal weights must add up to exactly 100.
select sum(weight) as total_weight
from {{ ref('health_signals') }}
having sum(weight) <> 100
