-- The match between the two systems, both ways: every live CRM company (matched or with the
-- reason it is not) and every finance customer no CRM company matches.
with

matches as (
    select * from {{ ref('int_crm_companies_matched_to_customers') }}
),

customers as (
    select customer_number from {{ ref('stg_legacy__customers') }}
),

crm_side as (
    select
        company_id,
        customer_number,
        case
            when customer_number is not null then 'matched'
            else 'crm_only'
        end as match_status,
        match_method,
        unmatched_reason
    from matches
),

finance_only as (
    select
        null as company_id,
        customers.customer_number,
        'finance_only' as match_status,
        null as match_method,
        'no_crm_company' as unmatched_reason
    from customers
    where customers.customer_number not in (
        select m.customer_number
        from matches as m
        where m.customer_number is not null
    )
),

unioned as (
    select * from crm_side
    union all
    select * from finance_only
),

final as (
    select
        cast(company_id as bigint) as crm_company_id,
        cast(customer_number as bigint) as customer_number,
        cast(match_status as varchar) as match_status,
        cast(match_method as varchar) as match_method,
        cast(unmatched_reason as varchar) as unmatched_reason
    from unioned
)

select * from final
