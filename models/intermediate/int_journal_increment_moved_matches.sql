-- Customers whose CRM match a journal increment moved (a changed VAT id, a new or deleted
-- customer can take a CRM company from, or give one to, a customer the journal did not
-- touch): dim_customer and customer_financial_status rebuild them too. Empty outside an
-- increment (see macros/journal_increment.sql); in one, marts.dim_customer still holds the
-- last build's matches (named in full, as dbt names it, so the column lineage follows it).
{{ config(materialized='table') }}

with

matches as (
    select * from {{ ref('int_crm_companies_matched_to_customers') }}
    where customer_number is not null
),

moved as (
    {% if var('journal_since', none) is not none %}
        select
            cast(coalesce(built.customer_number, matches.customer_number) as varchar)
                as key_value
        from "{{ target.database }}"."marts"."dim_customer" as built  -- noqa: RF06
        full outer join matches on built.customer_number = matches.customer_number
        where built.crm_company_id is distinct from matches.company_id
    {% else %}
        select cast(matches.customer_number as varchar) as key_value
        from matches
        where false
    {% endif %}
)

select distinct key_value from moved
where key_value is not null
