with

payments as (
    select * from {{ ref('stg_legacy__payments') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

final as (
    select
        cast(payments.payment_id as varchar) as payment_id,
        cast(payments.customer_number as bigint) as customer_number,
        cast(payments.document_number as varchar) as document_number,
        cast(payments.value_date as date) as value_date,
        cast(payments.currency_code as varchar) as currency_code,
        cast(payments.amount as decimal(18, 2)) as amount,
        {{ convert_to_eur('payments.amount', 'currencies.units_per_eur') }} as amount_eur,
        cast(payments.payment_method as varchar) as payment_method
    from payments
    left join currencies on payments.currency_code = currencies.currency_code
)

select * from final
