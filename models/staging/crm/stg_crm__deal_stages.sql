with

source as (
    select * from {{ source('crm', 'deal_stages') }}
),

renamed as (
    select
        ---------- ids
        pipeline_id,
        stage_id,

        ---------- text
        pipeline_label,
        stage_label,

        ---------- numerics
        cast(display_order as integer) as display_order,
        cast(probability as decimal(5, 4)) as win_probability,

        ---------- booleans
        is_closed

    from source
)

select * from renamed
