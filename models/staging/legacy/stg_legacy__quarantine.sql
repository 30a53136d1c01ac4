with

source as (
    select * from {{ source('legacy', 'quarantine') }}
),

renamed as (
    select
        source_file,
        feed,
        record_number,
        byte_offset,
        fields as failed_fields,
        reason,
        errors as errors_json,
        raw_record_hex

    from source
)

select * from renamed
