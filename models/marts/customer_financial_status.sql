-- One row per finance customer: what sales needs to know before the next call.
with

customers as (
    select * from {{ ref('dim_customer') }}
),

open_items as (
    select * from {{ ref('fct_open_items') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
),

open_summary as (
    select
        customer_number,
        count(*) as open_item_count,
        sum(open_amount_eur) as open_amount_eur,
        coalesce(
            sum(open_amount_eur) filter (where days_past_due > 0), 0
        ) as overdue_amount_eur,
        max(greatest(days_past_due, 0)) as max_days_past_due,
        max(dunning_level) as max_dunning_level
    from open_items
    group by customer_number
),

payment_summary as (
    select
        customer_number,
        max(value_date) as last_payment_date
    from payments
    group by customer_number
),

final as (
    select
        cast(customers.customer_number as bigint) as customer_number,
        cast(customers.crm_company_id as bigint) as crm_company_id,
        cast(customers.customer_name as varchar) as customer_name,
        cast(coalesce(open_summary.open_item_count, 0) as integer) as open_item_count,
        cast(coalesce(open_summary.open_amount_eur, 0) as decimal(18, 2)) as open_amount_eur,
        cast(coalesce(open_summary.overdue_amount_eur, 0) as decimal(18, 2))
            as overdue_amount_eur,
        cast(coalesce(open_summary.max_days_past_due, 0) as integer) as max_days_past_due,
        cast(payment_summary.last_payment_date as date) as last_payment_date,
        cast(customers.credit_limit_eur as decimal(18, 2)) as credit_limit_eur,
        cast(
            case
                when customers.credit_limit_eur > 0
                    then round(
                        coalesce(open_summary.open_amount_eur, 0)
                        * 100 / customers.credit_limit_eur, 2
                    )
            end as decimal(9, 2)
        ) as credit_utilisation_percent,
        cast(
            case
                when customers.customer_status = 'blocked' then 'blocked'
                when coalesce(open_summary.max_dunning_level, 0) >= 2 then 'in_dunning'
                when coalesce(open_summary.overdue_amount_eur, 0) > 0 then 'overdue'
                else 'current'
            end as varchar
        ) as payment_status
    from customers
    left join open_summary on customers.customer_number = open_summary.customer_number
    left join payment_summary on customers.customer_number = payment_summary.customer_number
)

select * from final
