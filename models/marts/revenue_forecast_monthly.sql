-- The forecast in total, per month (sums of revenue_forecast).
with

forecast as (
    select * from {{ ref('revenue_forecast') }}
),

final as (
    select
        cast(forecast_month as date) as forecast_month,
        cast(sum(invoiced_revenue_eur) as decimal(18, 2)) as invoiced_revenue_eur,
        cast(sum(open_deal_count) as integer) as open_deal_count,
        cast(sum(pipeline_amount_eur) as decimal(18, 2)) as pipeline_amount_eur,
        cast(sum(weighted_pipeline_eur) as decimal(18, 2)) as weighted_pipeline_eur,
        cast(sum(forecast_revenue_eur) as decimal(18, 2)) as forecast_revenue_eur
    from forecast
    group by 1
)

select * from final
