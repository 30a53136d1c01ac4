-- The customer master as the rule of truth leaves it: the latest full extract plus the
-- journal after its position (see the legacy_cdc source), not the extract alone.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {'kinds': ['customer'], 'touched_by': 'customer_number'}},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
with

source as (
    select * from {{ source('legacy_cdc', 'customers') }}
    where {{ journal_increment_filter(['customer'], 'cm_cust_no') }}
),

renamed as (
    select
        ---------- ids
        cm_cust_no as customer_number,

        ---------- text
        cm_name as customer_name,
        cm_street as street,
        cm_postcode as postcode,
        cm_city as city,
        cm_country as country_code,
        nullif(cm_vat_id, '') as vat_id,
        {{ normalize_vat_id('cm_vat_id') }} as vat_id_normalized,
        nullif(cm_iban, '') as iban,
        nullif(cm_contact, '') as contact_name,
        nullif(lower(cm_email), '') as email,
        cm_currency as currency_code,
        cm_pay_terms as payment_terms_code,
        cm_status as status_code,
        case cm_status
            when 'A' then 'active'
            when 'B' then 'blocked'
            when 'I' then 'inactive'
            else 'unknown'
        end as customer_status,

        ---------- numerics
        cm_credit_limit as credit_limit,
        cm_risk_class as risk_class,

        ---------- dates
        cm_created as created_date,
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
