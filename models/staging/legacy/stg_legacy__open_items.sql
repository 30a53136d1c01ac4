-- The items ledger as the rule of truth leaves it: the latest full extract plus the
-- journal after its position (postings, new documents, archiving).
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

source as (
    select * from {{ source('legacy_cdc', 'open_items') }}
    where {{ journal_increment_filter(['document'], 'oi_doc_no') }}
),

renamed as (
    select
        ---------- ids
        oi_doc_no as document_number,
        oi_cust_no as customer_number,
        nullif(oi_contract_ref, '') as contract_reference,

        ---------- text
        oi_doc_type as document_type_code,
        {{ document_type('oi_doc_type') }} as document_type,
        oi_currency as currency_code,
        oi_text as posting_text,

        ---------- numerics
        oi_amount as amount,
        oi_open_amount as open_amount,
        oi_dunning_level as dunning_level,

        ---------- dates
        oi_doc_date as document_date,
        oi_due_date as due_date,
        _extract_date as extract_date,

        ---------- journal
        _journal_sequence as journal_sequence,
        _changed_at as changed_at,

        ---------- lineage
        _source_file as source_file,
        _record_number as source_record_number,
        _errors as decode_errors

    from source
)

select * from renamed
