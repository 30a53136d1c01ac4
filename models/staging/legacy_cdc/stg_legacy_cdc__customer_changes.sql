with

source as (
    select * from {{ source('legacy_cdc', 'customers_changes') }}
),

renamed as (
    select
        ---------- ids
        sequence as change_sequence,
        cm_cust_no as customer_number,
        commit_cycle,

        ---------- text
        operation as change_operation,
        entry_type as journal_entry_type,
        job as changed_by_job,
        user_name as changed_by_user,
        program as changed_by_program,
        source_file,
        cm_name as customer_name,
        cm_city as city,
        cm_country as country_code,
        cm_currency as currency_code,
        cm_status as status_code,

        ---------- numerics
        cm_credit_limit as credit_limit,
        struct_extract(before_image, 'cm_credit_limit') as credit_limit_before,

        ---------- timestamps
        journal_ts as changed_at,
        applied_at

    from source
)

select * from renamed
