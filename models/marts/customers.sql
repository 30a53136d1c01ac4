{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {'kinds': ['customer', 'moved_match'], 'touched_by': 'customer_number'}},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
-- depends_on: {{ ref('int_journal_increment_moved_matches') }}
with

customers as (
    select * from {{ ref('stg_legacy__customers') }}
    where {{ journal_increment_filter(['customer', 'moved_match'], 'customer_number') }}
),

matches as (
    select * from {{ ref('int_crm_companies_matched_to_customers') }}
    where customer_number is not null
),

companies as (
    select * from {{ ref('stg_crm__companies') }}
),

countries as (
    select * from {{ ref('countries') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

terms as (
    select * from {{ ref('payment_terms') }}
),

restrictions as (
    select * from {{ ref('stg_ops__restrictions') }}
),

final as (
    select
        cast(customers.customer_number as bigint) as customer_number,
        cast(customers.customer_name as varchar) as customer_name,
        cast(customers.city as varchar) as city,
        cast(customers.postcode as varchar) as postcode,
        cast(customers.country_code as varchar) as country_code,
        cast(coalesce(countries.is_eu_member, false) as boolean) as is_eu_customer,
        cast(customers.vat_id as varchar) as vat_id,
        cast(customers.currency_code as varchar) as currency_code,
        cast(customers.payment_terms_code as varchar) as payment_terms_code,
        cast(terms.net_days as integer) as payment_terms_net_days,
        cast(customers.credit_limit as decimal(18, 2)) as credit_limit,
        {{ convert_to_eur('customers.credit_limit', 'currencies.units_per_eur') }}
            as credit_limit_eur,
        cast(customers.customer_status as varchar) as customer_status,
        cast(customers.risk_class as integer) as risk_class,
        cast(customers.created_date as date) as created_date,
        cast(matches.company_id as bigint) as crm_company_id,
        cast(companies.company_name as varchar) as crm_company_name,
        cast(matches.match_method as varchar) as crm_match_method,
        cast(customers.extract_date as date) as extract_date,
        cast(restrictions.customer_number is not null as boolean) as is_restricted,
        cast(restrictions.erasable_on as date) as erasable_on
    from customers
    left join matches on customers.customer_number = matches.customer_number
    left join companies on matches.company_id = companies.company_id
    left join countries on customers.country_code = countries.country_code
    left join currencies on customers.currency_code = currencies.currency_code
    left join terms on customers.payment_terms_code = terms.payment_terms_code
    left join restrictions on customers.customer_number = restrictions.customer_number
)

select * from final
