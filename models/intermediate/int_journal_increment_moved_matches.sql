-- Customers and CRM companies whose match a journal increment moved (a changed VAT id, a
-- new or deleted customer can take a CRM company from, or give one to, a customer the
-- journal did not touch): customers, customer_financial_status and the forecast rebuild
-- them too. Kinds: customer (the customer number), company ('company:' and the CRM company
-- id, for the forecast's prospect rows). Empty outside an increment (see
-- macros/journal_increment.sql); in one, marts.customers still holds the last build's
-- matches (named in full, as dbt names it, so the column lineage follows it).
{{ config(materialized='table') }}

with

matches as (
    select * from {{ ref('int_crm_companies_matched_to_customers') }}
    where customer_number is not null
),

moved as (
    {% if not flags.FULL_REFRESH %}
        select
            built.customer_number as built_customer,
            matches.customer_number as matched_customer,
            built.crm_company_id as built_company,
            matches.company_id as matched_company
        from "{{ target.database }}"."marts"."customers" as built  -- noqa: RF06
        full outer join matches on built.customer_number = matches.customer_number
        where built.crm_company_id is distinct from matches.company_id
    {% else %}
        select
            matches.customer_number as built_customer,
            matches.customer_number as matched_customer,
            matches.company_id as built_company,
            matches.company_id as matched_company
        from matches
        where false
    {% endif %}
),

keys as (
    select
        'customer' as key_kind,
        cast(coalesce(built_customer, matched_customer) as varchar) as key_value
    from moved
    union
    select
        'company' as key_kind,
        'company:' || cast(built_company as varchar) as key_value
    from moved
    union
    select
        'company' as key_kind,
        'company:' || cast(matched_company as varchar) as key_value
    from moved
)

select * from keys
where key_value is not null
