-- AR documents with what the marts need: the as-of date of the latest extract, the amount
-- still open today (a document missing from the latest extract has been cleared), days past
-- due, the ageing bucket and EUR amounts at the reference rate.
with

documents as (
    select * from {{ ref('stg_legacy__open_items') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

latest_extract as (
    select max(extract_date) as as_of_date from documents
),

flagged as (
    select
        documents.*,
        latest_extract.as_of_date,
        documents.extract_date = latest_extract.as_of_date as is_in_latest_extract
    from documents
    cross join latest_extract
),

enriched as (
    select
        flagged.*,
        case
            when flagged.is_in_latest_extract then flagged.open_amount
            else cast(0 as decimal(13, 2))
        end as current_open_amount,
        flagged.as_of_date - flagged.due_date as days_past_due,
        currencies.units_per_eur
    from flagged
    left join currencies on flagged.currency_code = currencies.currency_code
),

final as (
    select
        *,
        current_open_amount <> 0 as is_open,
        case
            when days_past_due <= 0 then 'current'
            when days_past_due <= 30 then '1-30'
            when days_past_due <= 60 then '31-60'
            when days_past_due <= 90 then '61-90'
            else '90+'
        end as ageing_bucket,
        {{ convert_to_eur('amount', 'units_per_eur') }} as amount_eur,
        {{ convert_to_eur('current_open_amount', 'units_per_eur') }}
            as current_open_amount_eur
    from enriched
)

select * from final
