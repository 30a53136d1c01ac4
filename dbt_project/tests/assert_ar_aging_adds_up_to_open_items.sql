-- The ageing buckets and the open credits add up to the open items, per customer and
-- currency, to the cent.
with

open_items as (
    select
        customer_number,
        currency_code,
        sum(open_amount) as open_amount
    from {{ ref('open_items') }}
    group by customer_number, currency_code
),

aging as (
    select
        customer_number,
        currency_code,
        current_amount
        + overdue_1_30_amount
        + overdue_31_60_amount
        + overdue_61_90_amount
        + overdue_over_90_amount
        + open_credit_amount as bucket_sum,
        total_open_amount
    from {{ ref('ar_aging') }}
)

select
    open_items.customer_number,
    open_items.currency_code
from open_items
full outer join aging
    on
        open_items.customer_number = aging.customer_number
        and open_items.currency_code = aging.currency_code
where
    aging.bucket_sum is distinct from open_items.open_amount
    or aging.total_open_amount is distinct from open_items.open_amount
