with

source as (
    select * from {{ source('legacy', 'payments') }}
),

renamed as (
    select
        ---------- ids
        pm_payment_id as payment_id,
        pm_cust_no as customer_number,
        nullif(pm_doc_no, '') as document_number,

        ---------- text
        pm_currency as currency_code,
        pm_method as payment_method_code,
        case pm_method
            when 'UE' then 'bank_transfer'
            when 'LS' then 'direct_debit'
            when 'SC' then 'cheque'
            when 'VR' then 'offset'
            else 'other'
        end as payment_method,

        ---------- numerics
        pm_amount as amount,

        ---------- dates
        pm_value_date as value_date,
        _extract_date as extract_date,

        ---------- lineage
        _source_file as source_file,
        _record_number as source_record_number,
        _errors as decode_errors

    from source
)

select * from renamed
