-- Contracts (closed-won CRM deals) against what finance invoiced on their reference.
with

contracts as (
    select * from {{ ref('stg_crm__deals') }}
    where is_closed_won and not is_archived and contract_reference is not null
),

matches as (
    select * from {{ ref('int_crm_companies_matched_to_customers') }}
),

documents as (
    select * from {{ ref('int_ar_documents_enriched') }}
    where contract_reference is not null
),

invoiced as (
    select
        contracts.deal_id,
        count(documents.document_number) as document_count,
        coalesce(
            sum(documents.amount) filter (
                where documents.currency_code = contracts.currency_code
            ),
            0
        ) as invoiced_amount,
        count(*) filter (
            where documents.currency_code <> contracts.currency_code
        ) as other_currency_documents
    from contracts
    left join documents on contracts.contract_reference = documents.contract_reference
    group by contracts.deal_id
),

final as (
    select
        cast(contracts.deal_id as bigint) as deal_id,
        cast(contracts.contract_reference as varchar) as contract_reference,
        cast(contracts.company_id as bigint) as crm_company_id,
        cast(matches.customer_number as bigint) as customer_number,
        cast(contracts.close_date as date) as close_date,
        cast(contracts.currency_code as varchar) as currency_code,
        cast(contracts.amount as decimal(18, 2)) as contract_amount,
        cast(invoiced.invoiced_amount as decimal(18, 2)) as invoiced_amount,
        cast(invoiced.invoiced_amount - contracts.amount as decimal(18, 2))
            as difference_amount,
        cast(invoiced.document_count as integer) as document_count,
        cast(
            case
                when invoiced.document_count = 0 then 'not_invoiced'
                when invoiced.other_currency_documents > 0 then 'currency_mismatch'
                when invoiced.invoiced_amount = contracts.amount then 'matched'
                when invoiced.invoiced_amount < contracts.amount then 'under_invoiced'
                else 'over_invoiced'
            end as varchar
        ) as reconciliation_status
    from contracts
    inner join invoiced on contracts.deal_id = invoiced.deal_id
    left join matches on contracts.company_id = matches.company_id
)

select * from final
