-- Per customer and month: revenue invoiced, plus open deals weighted by the win
-- probability of their stage (from the CRM's pipeline definitions) in the month they are
-- expected to close. All in EUR at the seeded reference rates. Incremental for the journal
-- increment: a row belongs to its customer (or, for a prospect, to 'company:<id>'), and the
-- rows of customers whose invoiced revenue or master data changed, and of moved companies,
-- are rebuilt (macros/journal_increment.sql); a payment alone changes no forecast row.
{% set forecast_kinds = ['customer_revenue', 'moved_match', 'moved_company'] %}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {
            'kinds': forecast_kinds,
            'touched_by': "coalesce(cast(customer_number as varchar), 'company:' || crm_company_id)",
        }},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
-- depends_on: {{ ref('int_journal_increment_moved_matches') }}
with

invoices as (
    select * from {{ ref('invoices') }}
    where {{ journal_increment_filter(forecast_kinds, 'customer_number') }}
),

deals as (
    select * from {{ ref('stg_crm__deals') }}
),

stages as (
    select * from {{ ref('stg_crm__deal_stages') }}
),

customers as (
    select * from {{ ref('customers') }}
),

companies as (
    select * from {{ ref('stg_crm__companies') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

invoiced as (
    select
        cast(date_trunc('month', document_date) as date) as forecast_month,
        customer_number,
        sum(amount_eur) as invoiced_revenue_eur
    from invoices
    -- a document whose date did not decode has no month to count in (it stays in the
    -- AR marts, flagged where it was landed)
    where document_date is not null
    group by 1, 2
),

open_deals as (
    select
        deals.company_id as crm_company_id,
        stages.win_probability,
        cast(date_trunc('month', deals.close_date) as date) as forecast_month,
        {{ convert_to_eur('deals.amount', 'currencies.units_per_eur') }} as amount_eur
    from deals
    inner join stages
        on
            deals.pipeline = stages.pipeline_id
            and deals.deal_stage = stages.stage_id
    inner join currencies on deals.currency_code = currencies.currency_code
    where
        not deals.is_archived
        and not stages.is_closed
        and deals.amount is not null
        and deals.close_date is not null
),

pipeline as (
    select
        open_deals.forecast_month,
        open_deals.crm_company_id,
        customers.customer_number,
        count(*) as open_deal_count,
        sum(open_deals.amount_eur) as pipeline_amount_eur,
        sum(round(open_deals.amount_eur * open_deals.win_probability, 2))
            as weighted_pipeline_eur
    from open_deals
    left join customers on open_deals.crm_company_id = customers.crm_company_id
    where
        {{ journal_increment_filter(
            forecast_kinds,
            "coalesce(cast(customers.customer_number as varchar), 'company:' || open_deals.crm_company_id)"
        ) }}
    group by 1, 2, 3
),

combined as (
    select
        coalesce(invoiced.forecast_month, pipeline.forecast_month) as forecast_month,
        coalesce(invoiced.customer_number, pipeline.customer_number) as customer_number,
        pipeline.crm_company_id as deal_company_id,
        coalesce(invoiced.invoiced_revenue_eur, 0) as invoiced_revenue_eur,
        coalesce(pipeline.open_deal_count, 0) as open_deal_count,
        coalesce(pipeline.pipeline_amount_eur, 0) as pipeline_amount_eur,
        coalesce(pipeline.weighted_pipeline_eur, 0) as weighted_pipeline_eur
    from invoiced
    full outer join pipeline
        on
            invoiced.forecast_month = pipeline.forecast_month
            and invoiced.customer_number = pipeline.customer_number
),

final as (
    select
        cast(
            concat_ws(
                '|',
                combined.forecast_month,
                coalesce(cast(combined.customer_number as varchar), ''),
                coalesce(cast(combined.deal_company_id as varchar), '')
            ) as varchar
        ) as forecast_key,
        cast(combined.forecast_month as date) as forecast_month,
        cast(combined.customer_number as bigint) as customer_number,
        cast(coalesce(customers.crm_company_id, combined.deal_company_id) as bigint)
            as crm_company_id,
        cast(coalesce(customers.customer_name, companies.company_name) as varchar)
            as customer_name,
        cast(combined.invoiced_revenue_eur as decimal(18, 2)) as invoiced_revenue_eur,
        cast(combined.open_deal_count as integer) as open_deal_count,
        cast(combined.pipeline_amount_eur as decimal(18, 2)) as pipeline_amount_eur,
        cast(combined.weighted_pipeline_eur as decimal(18, 2)) as weighted_pipeline_eur,
        cast(combined.invoiced_revenue_eur + combined.weighted_pipeline_eur as decimal(18, 2))
            as forecast_revenue_eur
    from combined
    left join customers on combined.customer_number = customers.customer_number
    left join companies on combined.deal_company_id = companies.company_id
)

select * from final
