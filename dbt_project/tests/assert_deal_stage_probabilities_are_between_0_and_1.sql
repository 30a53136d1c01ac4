-- A stage probability outside [0, 1] would inflate or invert the weighted pipeline.
select
    pipeline_id,
    stage_id,
    win_probability
from {{ ref('stg_crm__deal_stages') }}
where win_probability < 0 or win_probability > 1
