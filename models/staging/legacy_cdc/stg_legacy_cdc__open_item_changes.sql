with

source as (
    select * from {{ source('legacy_cdc', 'open_items_changes') }}
),

renamed as (
    select
        ---------- ids
        sequence as change_sequence,
        oi_doc_no as document_number,
        oi_cust_no as customer_number,
        nullif(oi_contract_ref, '') as contract_reference,
        commit_cycle,

        ---------- text
        operation as change_operation,
        oi_doc_type as document_type_code,
        {{ document_type('oi_doc_type') }} as document_type,
        oi_currency as currency_code,
        oi_text as posting_text,
        source_file,
        image_errors as decode_errors,

        ---------- numerics
        oi_amount as amount,
        oi_open_amount as open_amount,
        struct_extract(before_image, 'oi_open_amount') as open_amount_before,
        -- what an update changed besides the open amount (the revenue it counts)
        struct_extract(before_image, 'oi_amount') as amount_before,
        struct_extract(before_image, 'oi_cust_no') as customer_number_before,
        struct_extract(before_image, 'oi_doc_type') as document_type_code_before,
        struct_extract(before_image, 'oi_currency') as currency_code_before,
        struct_extract(before_image, 'oi_doc_date') as document_date_before,
        oi_dunning_level as dunning_level,

        ---------- dates
        oi_doc_date as document_date,
        oi_due_date as due_date,
        journal_ts as changed_at

    from source
)

select * from renamed
