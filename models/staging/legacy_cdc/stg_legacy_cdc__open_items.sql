{{ config(enabled=var('cdc_open_items', false)) }}

-- The items ledger's current state as the journals leave it (see the macro).
with

combined as (
    {{ journal_current_state(
        source('legacy_cdc', 'open_items_base'),
        source('legacy_cdc', 'open_items_changes'),
        'oi_doc_no',
        ['oi_doc_no', 'oi_cust_no', 'oi_doc_type', 'oi_due_date', 'oi_amount',
         'oi_open_amount', 'oi_currency', 'oi_dunning_level']
    ) }}
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
