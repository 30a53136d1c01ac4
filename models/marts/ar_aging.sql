-- Open AR per customer and currency: open debits in the usual ageing buckets, open credits
-- (credit notes, payments not yet applied) in a column of their own, as of the state's date.
-- The buckets plus the credits add up to the net open amount.
with

open_items as (
    select * from {{ ref('open_items') }}
),

final as (
    select
        cast(customer_number as bigint) as customer_number,
        cast(currency_code as varchar) as currency_code,
        cast(max(as_of_date) as date) as as_of_date,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = 'current'), 0)
            as decimal(18, 2)
        ) as current_amount,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = '1-30'), 0)
            as decimal(18, 2)
        ) as overdue_1_30_amount,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = '31-60'), 0)
            as decimal(18, 2)
        ) as overdue_31_60_amount,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = '61-90'), 0)
            as decimal(18, 2)
        ) as overdue_61_90_amount,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = '90+'), 0)
            as decimal(18, 2)
        ) as overdue_over_90_amount,
        cast(
            coalesce(sum(open_amount) filter (where ageing_bucket = 'credit'), 0)
            as decimal(18, 2)
        ) as open_credit_amount,
        cast(sum(open_amount) as decimal(18, 2)) as total_open_amount,
        cast(sum(open_amount_eur) as decimal(18, 2)) as total_open_amount_eur
    from open_items
    group by customer_number, currency_code
)

select * from final
