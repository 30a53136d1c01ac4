{{ config(enabled=var('cdc_open_items', false)) }}

-- The items ledger's current state as the journals leave it: the baseline overlaid by the
-- latest applied change of each document after the baseline sequence; archived
-- (deleted) documents removed.
with

base as (
    select * from {{ source('legacy_cdc', 'open_items_base') }}
),

changes as (
    select * from {{ source('legacy_cdc', 'open_items_changes') }}
),

baseline as (
    select max(baseline_sequence) as baseline_sequence from base
),

latest_change as (
    select changes.*
    from changes
    cross join baseline
    where changes.sequence > baseline.baseline_sequence
    qualify row_number() over (partition by changes.record_key order by changes.sequence desc) = 1
),

unchanged as (
    select
        base.oi_doc_no,
        base.oi_cust_no,
        base.oi_doc_type,
        base.oi_due_date,
        base.oi_amount,
        base.oi_open_amount,
        base.oi_currency,
        base.oi_dunning_level,
        cast(null as bigint) as last_change_sequence
    from base
    where
        base.oi_doc_no not in (
            select latest_change.record_key from latest_change
        )
),

changed as (
    select
        oi_doc_no,
        oi_cust_no,
        oi_doc_type,
        oi_due_date,
        oi_amount,
        oi_open_amount,
        oi_currency,
        oi_dunning_level,
        sequence as last_change_sequence
    from latest_change
    where operation <> 'delete'
),

combined as (
    select * from unchanged
    union all
    select * from changed
),

renamed as (
    select
        oi_doc_no as document_number,
        oi_cust_no as customer_number,
        oi_doc_type as document_type_code,
        oi_due_date as due_date,
        oi_amount as amount,
        oi_open_amount as open_amount,
        oi_currency as currency_code,
        oi_dunning_level as dunning_level,
        last_change_sequence
    from combined
)

select * from renamed
