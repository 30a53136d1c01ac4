with

source as (
    select * from {{ source('crm', 'deals') }}
),

renamed as (
    select
        ---------- ids
        id as deal_id,
        company_id,
        nullif(contract_reference, '') as contract_reference,

        ---------- text
        dealname as deal_name,
        dealstage as deal_stage,
        pipeline,
        deal_currency_code as currency_code,

        ---------- numerics
        cast(amount as decimal(18, 2)) as amount,

        ---------- booleans
        dealstage = 'closedwon' as is_closed_won,
        archived as is_archived,

        ---------- dates
        cast(left(closedate, 10) as date) as close_date,
        created_at,
        updated_at,
        archived_at

    from source
)

select * from renamed
