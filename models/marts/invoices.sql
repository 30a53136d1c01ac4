{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {'kinds': ['document'], 'touched_by': 'document_number'}},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
with

documents as (
    select * from {{ ref('int_ar_documents_enriched') }}
    where {{ journal_increment_filter(['document'], 'document_number') }}
),

final as (
    select
        cast(document_number as varchar) as document_number,
        cast(customer_number as bigint) as customer_number,
        cast(document_type as varchar) as document_type,
        cast(document_date as date) as document_date,
        cast(due_date as date) as due_date,
        cast(currency_code as varchar) as currency_code,
        cast(amount as decimal(18, 2)) as amount,
        cast(amount_eur as decimal(18, 2)) as amount_eur,
        cast(current_open_amount as decimal(18, 2)) as open_amount,
        cast(current_open_amount_eur as decimal(18, 2)) as open_amount_eur,
        cast(is_open as boolean) as is_open,
        cast(is_archived as boolean) as is_archived,
        cast(contract_reference as varchar) as contract_reference,
        cast(dunning_level as integer) as dunning_level,
        cast(as_of_date as date) as as_of_date
    from documents
)

select * from final
