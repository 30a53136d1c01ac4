with

source as (
    select * from {{ source('legacy_cdc', 'positions') }}
),

renamed as (
    select
        ---------- ids
        journal as journal_name,

        ---------- numerics
        baseline_sequence,
        applied_through_sequence,
        state_rows,

        ---------- booleans
        position_declared as is_position_declared,

        ---------- dates
        baseline_extract_date,
        as_of_date,
        applied_through_at

    from source
)

select * from renamed
