-- The win-back priority score is documented as 0–100: the component weights must add up to 100.
select sum(weight) as total_weight
from {{ ref('win_back_priority_weights') }}
having sum(weight) <> 100
