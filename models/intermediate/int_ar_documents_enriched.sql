-- Every AR document with what the marts need. Current documents come from the legacy state
-- (latest full extract + journal after it); a document the state no longer holds (archived
-- by the journal, or absent from a later full extract) is kept for the invoice history with
-- nothing open. Amounts open today are classified as finance does:
--   debit  = an open amount > 0 (an invoice not yet paid in full): it can be overdue;
--   credit = an open amount < 0 (a credit note or payment not yet applied): never overdue.
-- Days past due are counted at the state's as-of date (the later of the extract's date and
-- the last journal entry applied). A table, incremental by document (a journal increment
-- recomputes the touched documents only; see macros/journal_increment.sql): the marts, the
-- reconciliation and the tests read it instead of recomputing the archive logic each time.
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
{% set document_columns = [
    'document_number',
    'customer_number',
    'contract_reference',
    'document_type_code',
    'document_type',
    'currency_code',
    'posting_text',
    'amount',
    'dunning_level',
    'document_date',
    'due_date',
] -%}

with

all_current_documents as (
    select * from {{ ref('stg_legacy__open_items') }}
),

current_documents as (
    select * from all_current_documents
    where {{ journal_increment_filter(['document'], 'document_number') }}
),

deliveries as (
    select * from {{ ref('stg_legacy__open_item_deliveries') }}
    where {{ journal_increment_filter(['document'], 'document_number') }}
),

journal_changes as (
    select * from {{ ref('stg_legacy_cdc__open_item_changes') }}
    where {{ journal_increment_filter(['document'], 'document_number') }}
),

journal_deletes as (
    select * from journal_changes
    where change_operation = 'delete'
    qualify row_number() over (
        partition by document_number order by change_sequence desc
    ) = 1
),

positions as (
    select * from {{ ref('stg_legacy_cdc__positions') }}
    where journal_name = 'open_items'
),

currencies as (
    select * from {{ ref('currencies') }}
),

-- the last image of every document the state no longer holds: as the last full extract
-- delivered it, or, for a document the journal both created and archived, its delete image
-- (so retention, which purges the delivered documents by date, purges their history too)
archived as (
    select {{ document_columns | join(', ') }}
    from deliveries
    where document_number not in (select c.document_number from current_documents as c)
    union all
    select {{ document_columns | join(', ') }}
    from journal_deletes
    where
        document_number not in (select c.document_number from current_documents as c)
        and document_number in (
            select i.document_number from journal_changes as i
            where i.change_operation = 'insert'
        )
),

documents as (
    select
        {{ document_columns | join(',\n        ') }},
        open_amount,
        false as is_archived
    from current_documents
    union all
    select
        *,
        cast(0 as decimal(13, 2)) as open_amount,
        true as is_archived
    from archived
),

as_of as (
    select
        coalesce(
            (select max(positions.as_of_date) from positions),
            (select max(a.extract_date) from all_current_documents as a)
        ) as as_of_date
),

enriched as (
    select
        documents.*,
        as_of.as_of_date,
        documents.open_amount as current_open_amount,
        as_of.as_of_date - documents.due_date as days_past_due,
        currencies.units_per_eur
    from documents
    cross join as_of
    left join currencies on documents.currency_code = currencies.currency_code
),

final as (
    select
        *,
        current_open_amount <> 0 as is_open,
        current_open_amount > 0 as is_open_debit,
        current_open_amount < 0 as is_open_credit,
        current_open_amount > 0 and days_past_due > 0 as is_past_due,
        case
            when current_open_amount < 0 then 'credit'
            when days_past_due <= 0 then 'current'
            when days_past_due <= 30 then '1-30'
            when days_past_due <= 60 then '31-60'
            when days_past_due <= 90 then '61-90'
            else '90+'
        end as ageing_bucket,
        {{ convert_to_eur('amount', 'units_per_eur') }} as amount_eur,
        {{ convert_to_eur('current_open_amount', 'units_per_eur') }}
            as current_open_amount_eur
    from enriched
)

select * from final
