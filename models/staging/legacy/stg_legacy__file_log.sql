with

source as (
    select * from {{ source('legacy', 'file_log') }}
),

renamed as (
    select
        source_file,
        feed,
        status,
        reason,
        records_read,
        records_landed,
        records_quarantined,
        records_with_errors,
        extract_date,
        processed_at

    from source
)

select * from renamed
